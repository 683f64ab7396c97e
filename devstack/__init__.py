"""Development tooling and the stack that wires every service together: the Temporal dev server launcher, a local
SMTP receiver, `make up` (`devstack.up`), `make demo` (`devstack.demo`) and the `tradelane` command line that adds
these to the operational commands of `starter.cli`.

The top of the import layers below the harnesses (`bench`, `reliability`): it imports the worker, the API and the
partner sandbox; nothing but the harnesses imports it.
"""
