"""Selection: which tests pytest will run for given arguments (`collect`, with the plugin in
`standalone/` that a collection-only run loads), and which models those tests need (`needs`)."""
