"""Retrieval layer: paper records, parsers, merge, chunking, embeddings, Chroma store, search."""
