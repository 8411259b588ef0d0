# GGUF reader/writer: surge_gguf
