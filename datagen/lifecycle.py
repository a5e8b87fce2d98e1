"""Users' lifecycles as real apps see them: most users go quiet some weeks after they sign up.

A user who goes quiet keeps their account (no soft delete: the app never learns it) but stops
acting: no payment, message or app event, no new membership or outing, no invitation from
friends, from that moment on. When is a pure function of the user's id and sign-up time, so a
full history and every later ``--continue`` agree without storing it.

The shape: a share of loyal users never goes quiet; the others stay for a heavy-tailed
tenure (Weibull, shape below 1: many leave within weeks, some after months). With the values
below, about a quarter of the users active in a month (18 to 33 % at demo scale) are not active in the next one.
"""

from __future__ import annotations

import math
import uuid

from datagen.timeline import DAY
from datagen.world import FOREVER

LOYAL_SHARE = 0.2
MEDIAN_TENURE_DAYS = 40.0
SHAPE = 0.8  # Weibull shape < 1: the hazard falls with tenure (the first weeks lose most)
MIN_TENURE = 3 * DAY


def quiet_at(user_id: uuid.UUID, created: int) -> int:
    """The moment the user stops acting (FOREVER for a loyal user)."""
    bits = user_id.int ^ (user_id.int >> 64)
    loyal = (bits & 0xFFFF) / 0x10000
    if loyal < LOYAL_SHARE:
        return FOREVER
    u = ((bits >> 16) & 0xFFFFFFFF) / 0x100000000  # uniform in [0, 1)
    scale = MEDIAN_TENURE_DAYS / math.log(2) ** (1 / SHAPE)
    tenure_days = scale * (-math.log(1.0 - u)) ** (1 / SHAPE)
    return created + max(MIN_TENURE, int(tenure_days * DAY))
