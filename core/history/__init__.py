"""Conversation history, context, search, export/import and fork (SPEC §5).

Public surface (imported from the modules; the store uses `core.records`, never pulls in
the services): `messages.HistoryService` (`services.history`), `search.search`,
`context.read` / `update` / `bundle` / `purge_context`, `export.json_chunks` /
`markdown_chunks` / `export_record`, `importer.import_json`, `fork.fork`,
`summary.Summarizer` / `summarize`, `resume.resume_view`.
"""
