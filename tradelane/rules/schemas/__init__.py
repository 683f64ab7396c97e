"""Row models of the rule tables, one module per decision area (named like the module that reads the tables).

A schema module holds what a row may contain and what a row says about itself (its key, its validation, its band
for a value); the decision modules in `tradelane.decisions` and `tradelane.eta` import them and hold only the
computation. `tradelane.rules.registry` lists every model with the file it reads.
"""
