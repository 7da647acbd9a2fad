"""Serving the user-context task: the database (:mod:`.store`) and the online path (:mod:`.online`)."""
