"""Selection: which tests pytest will run for given arguments (`collect`, with the `plugin`
a collection-only run loads), and which models those tests need (`needs`)."""

#: The plugin a collection-only run loads with `-p`; named here so that importing the
#: selection does not import pytest.
PLUGIN = "scanner.selection.plugin"
#: Where the plugin writes what it found, and which parameter names it reports.
OUTPUT_VAR = "FETCH_TEST_MODELS_SELECTION"
NAMES_VAR = "FETCH_TEST_MODELS_PARAM_NAMES"
