"""`models.prune`: what a suite keeps in the cache, and what it no longer needs."""
