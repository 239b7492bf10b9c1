"""``layershare diff`` and ``check --baseline``: two images layer by layer, two hosts image by image
(``images``), the files two images differ in (``files``), and the arguments turned into sides
(``sides``: an image on the engine or a saved file)."""
