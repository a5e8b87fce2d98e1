"""Names, titles and message bodies, including the hostile text real users type.

Hostile means: single and double quotes, backslashes, tabs, newlines (LF and
CRLF), emoji (including multi-code-point ones), accents, non-Latin scripts
and SQL-looking strings. Plain text is the common case; hostile is a few %.
"""

from __future__ import annotations

import random

from datagen.randomness import chance

# fmt: off
FIRST_NAMES = [
    'alex', 'sam', 'lea', 'noah', 'emma', 'lucas', 'chloe', 'hugo', 'ines', 'jules', 'mia', 'nina', 'oscar',
    'paul', 'rosa', 'theo', 'zoe', 'yann', 'ada', 'ben', 'carla', 'dan', 'eva', 'felix',
]
HOSTILE_NAMES = [
    'zoë', 'renée', 'françois', 'josé', 'søren', 'łukasz', 'ærin', "o'brien", "d'artagnan", 'mc"q"', 'back\\slash',
    'tab\tname', 'new\nline', 'crlf\r\nname', '🎉party', 'nico🍕', '👩\u200d👩\u200d👧fam', '李雷', 'наташа', 'يوسف',
    'ゆき', "robert'); drop table users;--", '  spaced  ', 'emoji😀accent é',
]
CITIES = [
    'Paris', 'Lyon', 'Marseille', 'Berlin', 'Köln', 'München', 'Zürich', 'Genève', 'London', 'Manchester',
    'New York', 'São Paulo', 'Montréal', 'Kraków', 'Málaga', 'Reykjavík', 'Łódź', 'Besançon', 'Dublin',
    'Amsterdam', 'Bruxelles', 'Milano', 'Lisboa',
]
CATEGORY_TITLES = {
    'restaurant': ['Dinner at {place}', 'Brunch at {place}', 'Pizza night at {place}', 'Sushi at {place}'],
    'bar': ['Drinks at {place}', 'Afterwork at {place}', 'Quiz night at {place}'],
    'cinema': ['Movie night: {film}', 'Cinema: {film}', 'Late show {film}'],
    'concert': ['Concert: {band}', '{band} live', 'Festival day ({band})'],
    'sport': ['5-a-side football', 'Climbing session', 'Sunday run', 'Padel match', 'Bike ride'],
    'trip': ['Weekend in {city}', 'Road trip to {city}', 'Ski trip', 'Day trip to {city}'],
    'other': ['Board games', 'Birthday party', 'Karaoke', 'Museum visit', 'Picnic'],
}
PLACES = [
    "Luigi's", 'Chez Marcel', 'Le Petit Zinc', 'The Crown', 'Café de Flore', 'Brasserie Lipp', 'Noodle Bar',
]
HOSTILE_PLACES = [
    'Chez "Dédé"', "L'Œil de Bœuf", "Mama's 🍝", 'Bar\\Tabac', 'Sushi\tZen', 'Le Zinc\n(back room)', '酒場たぬき',
]
FILMS = [
    'Dune', 'Oppenheimer', 'Amélie', 'Inception', 'Parasite', 'Barbie',
]
BANDS = [
    'Daft Punk', 'AC/DC', 'Stromae', 'Björk', 'Sigur Rós', 'Motörhead', 'Beyoncé',
]
GROUP_WORDS = [
    'friends', 'crew', 'gang', 'squad', 'club', 'team', 'family', 'neighbours', 'colleagues',
]
HOSTILE_GROUP_NAMES = [
    'Les "amis" de Zoë 🍕', "O'Neill's pub crew", 'Friday\nnight', 'Back\\slashers', 'Tab\tclub', '🎉🎉🎉',
    'Ñandú & Çedille', "'; DELETE FROM groups; --", 'Famille 👨\u200d👩\u200d👧\u200d👦', 'Crlf\r\ngroup', 'Сябры',
]
MESSAGE_PARTS = [
    'see you there', "who's in?", "I'm running late", "can't make it, sorry", 'count me in', 'what time?',
    "let's meet at the station", 'I booked a table', 'bring cash please', 'great idea', 'anyone has a car?',
    'the place is closed on mondays', 'I paid for the tickets', 'ok', 'yes', 'no', 'haha', 'sounds good',
    'next week maybe', 'thanks!',
]
HOSTILE_MESSAGE_PARTS = [
    '😀😀😀', "🎉 c'est génial !", 'he said "no way"', "it's 20€ each", 'path C:\\Users\\zoë', 'line one\nline two',
    'windows\r\nline', 'col1\tcol2', "ça marche, à tout à l'heure", '👍🏽', "<script>alert('x')</script>",
    '50% off; DROP TABLE messages;--', 'naïve café résumé', 'ünïcödé', '\\N', 'NULL', '  ',
    '日本語のメッセージ', 'مرحبا',
]
SEARCH_TERMS = [
    'pizza', 'concert', 'cinema', 'climbing', 'trip', 'brunch', 'bar', 'karaoke', 'museum',
]
HOSTILE_SEARCHES = [
    'zoë\'s "bday" 🎂', "'; DROP TABLE users; --", 'tab\tsep', 'back\\slash', 'new\nline', '%_%', 'Kraków', '',
]
# fmt: on


def _hostile(rng: random.Random, plain: str, hostile: list[str], rate: float) -> str:
    return rng.choice(hostile) if chance(rng, rate) else plain


def username(rng: random.Random, number: int) -> str:
    """Unique by construction: the number is unique per user."""
    name = _hostile(rng, rng.choice(FIRST_NAMES), HOSTILE_NAMES, 0.06)
    separator = rng.choice(["", "_", ".", ""])
    return f"{name}{separator}{number}"


def email(rng: random.Random, number: int) -> str:
    domain = rng.choice(["example.com", "example.org", "mail.example", "exämple.de"])
    return f"{rng.choice(FIRST_NAMES)}.{number}@{domain}"


def city(rng: random.Random) -> str | None:
    return None if chance(rng, 0.15) else rng.choice(CITIES)


def group_name(rng: random.Random) -> str:
    if chance(rng, 0.08):
        return rng.choice(HOSTILE_GROUP_NAMES)
    return f"{rng.choice(CITIES)} {rng.choice(GROUP_WORDS)}"


def outing_title(rng: random.Random, category: str) -> str:
    template = rng.choice(CATEGORY_TITLES[category])
    return template.format(
        place=_hostile(rng, rng.choice(PLACES), HOSTILE_PLACES, 0.08),
        film=rng.choice(FILMS),
        band=rng.choice(BANDS),
        city=rng.choice(CITIES),
    )


def message_body(rng: random.Random) -> str:
    parts = [
        _hostile(rng, rng.choice(MESSAGE_PARTS), HOSTILE_MESSAGE_PARTS, 0.05)
        for _ in range(rng.randint(1, 3))
    ]
    if chance(rng, 0.01):
        parts.append("\n".join(rng.choice(MESSAGE_PARTS) for _ in range(rng.randint(5, 30))))  # a long one
    return " ".join(parts)


def search_query(rng: random.Random) -> str:
    return _hostile(rng, rng.choice(SEARCH_TERMS), HOSTILE_SEARCHES, 0.1)
