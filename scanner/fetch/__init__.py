"""Fetch: plan the files of each model (`plan`), download them (`download`), one entry point
for a whole run (`run`), network calls on daemon threads (`parallel`), and llama.cpp's own
downloader as an alternative backend (`llama`)."""
