"""Sources: turn an engine, a recording of one, or image archives into the model (:mod:`layershare.model`).

``engine/`` a live engine (the only package importing the Docker SDK);
``stores/`` the engine's image stores read from disk; ``archive/`` image
archives read as streams; ``recording/`` engine answers to the model, and the
files ``layershare record`` writes; ``answers`` the shape they all share;
``choice`` which source the user named.
"""

from layershare.sources.choice import SourceChoice, open_source
from layershare.sources.interface import ContentSource, Source, StatefulSource

__all__ = ["ContentSource", "Source", "SourceChoice", "StatefulSource", "open_source"]
