"""llama.cpp's rules: its choice of files, its presets, its names, its URL files."""
