"""One function per thing a user does, shared by every door (the CLI now, the web next).

Each takes a `Services` context (settings, Temporal client, database engine, made on first use),
keyword-only typed inputs and, for actions, the `Actor` the door proved; it returns typed results
or raises one of the refusals in `services.errors`. Services import no door library (typer, rich).
"""
