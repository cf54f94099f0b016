-- konnektd's `kong.llm.schemas`: the LLM records Kong 3.10's ai-* plugins share.
-- Filled in by the ai-* plugin schemas' work; bundled schemas only.
return {}
