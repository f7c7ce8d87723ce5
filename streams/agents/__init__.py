"""The Faust stream workers: agents, tables, topics."""
