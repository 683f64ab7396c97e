"""Everything that touches the outside world on Tradelane's side: settings, logging, Temporal, the database."""
