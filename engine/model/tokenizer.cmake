# Tokenizers: surge_tokenizer
