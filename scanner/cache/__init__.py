"""The shared Hugging Face cache: its layout, its locks, files replaced in one rename."""

#: The tool's own folder in the cache: what the last fetch resolved, the scans it kept, the
#: launches the entry point reads (`cli/early.py`, before the rest of the tool is imported).
#: Under `.locks/`, the one folder huggingface_hub's cache scan (`hf cache scan`) passes over:
#: any other name it does not know is reported as a corrupted repo.
TOOL_FOLDER = ".locks/.fetch-test-models"
