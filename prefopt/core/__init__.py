"""The bottom layer: what every other package may use and which uses nothing else of prefopt.

errors (InputError), fields (config fields with help, bounds and choices, checked in one place), paths (the
repository root and the cache root), manifest (run manifests, atomic JSON), dist (collectives that work with or
without torch.distributed), plugins (the string tables through which the library reaches `prefopt.toy`), cli
(entry-point glue), plotting and tables. Nothing is re-exported here, so importing one module stays cheap.
"""
