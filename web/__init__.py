"""The web door (`duban web`): FastAPI pages over the same services as the CLI. A route only
authenticates, authorizes, calls a service and renders; see docs/ROLES.md for who may do what."""
