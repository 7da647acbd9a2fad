"""The second task: score items for a known user in a context (no session).

``base`` holds the :class:`~sessrec.models.user_context.base.UserContextModel` protocol and
the id encoders; each model is one file beside it and one registry line with
``task=USER_CONTEXT``. The evaluator path is :mod:`sessrec.evaluation.user_context`
(leave-one-out, the held-out item ranked among sampled negatives).
"""
