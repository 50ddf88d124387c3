"""The `veritas` command line: run the stack locally, ingest documents, ask questions."""
