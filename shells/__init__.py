"""The shells: the `ra` command line (`shells.cli`) and the Textual chat UI (`shells.tui`).

Thin layers over `assistant.Assistant`: they parse input, call the one API and render
what it returns. They never build an index, a store or a model themselves.
"""
