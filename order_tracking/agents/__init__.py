"""The agents: the five specialists and the coordinator (``specialists``: what each one is
for, its tools and answer format), their tools over the backends (``tools``: plain functions
whose docstring is what the model reads), the ADK agents built from them (``build``) and the
guard on what a user may send (``guard``)."""
