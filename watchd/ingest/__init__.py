"""The ingest pipeline: jobs, parts, batches, metadata and post-upload actions."""
