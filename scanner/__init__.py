"""Find the Hugging Face models a pytest suite references, resolve them as llama.cpp would,
and fetch them once into the shared Hugging Face cache."""
