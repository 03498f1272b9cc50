"""The bottom layer: value types and signals that every other layer passes around.

Nothing here imports from the rest of watchd: a file's identity (``fileversion``),
the stop token handed to every loop and sleep (``stop``), the clock seam
(``clock``) and the service's fixed limits (``service``).
"""
