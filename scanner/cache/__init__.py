"""The shared Hugging Face cache: its layout, its locks, files replaced in one rename."""
