"""bugfoundry's Textual curation workbench (built on top of ``engine``)."""
