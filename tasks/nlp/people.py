"""One identity per person (and organisation) in an article.

An article names the same person several ways: `Jens Stoltenberg`, `Stoltenberg`,
`M. Stoltenberg`, `son secrétaire général Jens Stoltenberg`; an organisation by its
name and its acronym, `l'Office fédéral de l'agriculture (OFAG)` then `l'OFAG`.
`identities` gives every entity its `canonical` name — the fullest name the article
uses for it — and what the article says of each identity: its roles (`secrétaire
général`, `toxicologue`) and, when the text shows it, its grammatical gender. The
quote extractor (tasks/nlp/quotes/) resolves pronouns and roles against them.

Pure functions of the text and its entities: no model, no lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tasks.nlp.gender import AGREEMENT, FEMALE, MALE, ROLE, TITLE, Cue, agreement, first_names
from tasks.text.folding import folded

TITLES = frozenset(
    "m. m mm. mme mme. mmes mlle mlle. me me. mgr mgr. pr pr. dr dr. monsieur madame "
    "mademoiselle maître professeur docteur".split()
)
# nationalities written before a name (`le Slovène Tadej Pogačar`): not part of it
_DEMONYM_STEMS = """
    slovène suédois allemand américain français britannique anglais italien espagnol belge
    suisse canadien québécois néerlandais russe chinois japonais brésilien argentin
    norvégien danois finlandais polonais portugais grec turc irlandais écossais australien
    sénégalais ivoirien marocain algérien tunisien camerounais congolais ukrainien
    israélien palestinien iranien indien mexicain autrichien hongrois roumain tchèque serbe
    croate kényan éthiopien nigérian malien libanais syrien égyptien sud-africain colombien
    chilien vénézuélien cubain africain européen asiatique sud-américain latino-américain
    nord-africain
""".split()
DEMONYMS = frozenset(
    form
    for stem in _DEMONYM_STEMS
    for form in (
        stem,
        stem + ("ne" if stem.endswith(("ien", "éen")) else "" if stem.endswith("e") else "e"),
    )
)
MASCULINE_TITLES = frozenset({"m.", "m", "mm.", "monsieur"})
FEMININE_TITLES = frozenset({"mme", "mme.", "mmes", "mlle", "mlle.", "madame", "mademoiselle"})

# Word forms that say a person's grammatical gender (roles, kinship).
FEMININE_WORDS = frozenset(
    """
    ambassadrice présidente vice-présidente directrice députée sénatrice étudiante avocate
    chercheuse professeure doctorante enseignante militante générale conseillère mairesse
    écrivaine autrice auteure actrice chanteuse candidate élue habitante salariée employée
    infirmière ouvrière agricultrice présentatrice fondatrice coordinatrice dirigeante
    patronne cheffe première lycéenne mère femme fille épouse veuve sœur soeur grand-mère
    reine princesse chancelière gouverneure amie voisine experte adjointe représentante
    négociatrice animatrice réalisatrice productrice rédactrice joueuse procureure
    policière historienne consœur consoeur professionnelle spécialiste-née
    """.split()
)
MASCULINE_WORDS = frozenset(
    """
    président vice-président directeur ambassadeur député sénateur étudiant avocat
    chercheur enseignant militant général conseiller écrivain acteur chanteur candidat
    élu habitant salarié employé infirmier ouvrier agriculteur présentateur fondateur
    coordinateur dirigeant patron chef premier lycéen père homme fils époux veuf frère
    roi prince chancelier gouverneur ami voisin expert adjoint représentant négociateur
    animateur réalisateur producteur rédacteur joueur procureur policier historien
    confrère professionnel ancien
    """.split()
)


def plurals(words: frozenset[str]) -> frozenset[str]:
    """Nouns with their plurals (`auteur` → `auteurs`, `général` → `généraux`,
    `journal` → `journaux`; `avocats` stays as is)."""

    def plural(word: str) -> str:
        if word.endswith(("s", "x", "z")):
            return word
        if word.endswith("al"):
            return word[:-2] + "aux"
        return word + ("x" if word.endswith(("eau", "eu")) else "s")

    return words | {plural(word) for word in words}


# Nouns that name people by what they are or do, whatever their gender, and their plurals.
HUMAN_NOUNS = plurals(
    frozenset(
        """
    ministre secrétaire porte-parole toxicologue naturopathe gastro-entérologue
    professeur philosophe journaliste sociologue économiste juge maire responsable
    spécialiste médecin docteur commissaire haut-commissaire syndicaliste anthropologue
    biologiste politologue analyste témoin victime jeune garçon auteur interlocuteur
    chef élu proche collègue partenaire patron avocat expert chercheur
    """.split()
    )
    | FEMININE_WORDS
    | MASCULINE_WORDS
)
FEMININE_DETERMINERS = frozenset({"la", "une", "cette", "sa"})
MASCULINE_DETERMINERS = frozenset({"le", "un", "ce", "cet", "du", "au"})
DETERMINERS = FEMININE_DETERMINERS | MASCULINE_DETERMINERS | {"l", "son", "leur", "notre"}
PREPOSITIONS = frozenset(
    """
    à de d dans devant derrière sur sous pour par avec chez vers entre contre sans selon
    concernant depuis pendant après avant malgré parmi en lors
    """.split()
)
# a preposition, or one contracted with its article (`du`, `aux`): a name after it is
# governed by it, not a clause's subject
GOVERNING = PREPOSITIONS | {"du", "des", "au", "aux"}
# words that end a noun phrase before a name: it then does not describe the name
_NOT_IN_PHRASE = frozenset("et ou que qu qui mais car donc a ont est sont été".split())
_STOP_WORDS = frozenset(
    """
    le la les l un une des de du d à au aux en et ou son sa ses leur leurs ce cet cette
    ces a été est qui que qu dans sur pour par avec chez lors ans an
    """.split()
)

_WORD = re.compile(r"\w+(?:-\w+)*\.?")
_ACRONYM_AFTER = re.compile(r"\s*\(\s*([A-ZÀ-Ý][A-Za-zÀ-ÿ0-9&]{1,11})\s*\)")
_BOUNDARY = re.compile(r"[.;:!?«»\"()\[\]\n]")
_NOTE_CALL = re.compile(r"^\s*\(\d+\)")  # `Francisca Joly-Gomez (2), professeure`
_APPOSITION_END = re.compile(r",\s*(?:qui|dont|lors|dans|a|avait|est)\b")
_FINITE_VERB = re.compile(
    r"(?<!['’])\b(?:est|sont|a|ont|était|étaient|avait|avaient|sera|seront|serait|va|vont|doit|peut)\b"
)


@dataclass(frozen=True)
class Mention:
    """An entity of the article, as the entities table holds it."""

    index: int
    start: int
    end: int
    normalized: str
    label: str


@dataclass
class Identity:
    """One person or organisation of the article, however often it is named."""

    canonical: str
    label: str
    mentions: list[int] = field(default_factory=list)  # entity indexes, in text order
    roles: set[str] = field(default_factory=set)  # descriptive words found around it
    gender: str | None = None  # "f", "m", or None when the text does not say
    cues: list[Cue] = field(default_factory=list)  # every cue of its gender, as read

    @property
    def is_person(self) -> bool:
        return self.label == "PER"


@dataclass
class People:
    """The identities of one article, and which identity each entity is."""

    canonical: list[str]  # per entity, in the order of the mentions given
    identity_of: dict[int, Identity]  # entity index → identity
    identities: dict[str, Identity]  # canonical → identity


def name_words(normalized: str) -> list[str]:
    """The words of a name without its titles (`M. Trump` → `Trump`) or marks (`Antoine*`)."""
    words = normalized.replace("*", " ").split()
    while len(words) > 1 and (words[0].lower() in TITLES or words[0].lower() in DEMONYMS):
        words = words[1:]
    return words


def _is_acronym_of(acronym: str, name: str) -> bool:
    """Whether the acronym could abbreviate the name: same first letter, its other
    letters in the name in order (`OTAN`, `Organisation du traité de l'Atlantique
    nord`; `OFAG`, `Office fédéral de l'agriculture`)."""
    letters = name.lower()
    if len(name.split()) < 2 or letters[:1] != acronym[:1].lower():
        return False
    position = 1
    for letter in acronym[1:].lower():
        position = letters.find(letter, position)
        if position < 0:
            return False
        position += 1
    return True


def _acronyms(text: str, mentions: list[Mention]) -> dict[str, str]:
    """Acronym → full name, from `Full Name (ACRONYM)` in the text."""
    found: dict[str, str] = {}
    for mention in mentions:
        match = _ACRONYM_AFTER.match(text, mention.end)
        if match is None:
            continue
        acronym, name = match.group(1), mention.normalized
        if acronym != name and _is_acronym_of(acronym, name):
            found.setdefault(acronym, name)
    return found


def _looks_like_name(words: list[str]) -> bool:
    return bool(words) and all(word[:1].isupper() for word in words)


def _full_names_at(mentions: list[Mention], label: str) -> dict[str, list[int]]:
    """Where each name of the label starts (a person's without their title)."""
    names_at: dict[str, list[int]] = {}
    for mention in mentions:
        if mention.label == label:
            names_at.setdefault(" ".join(_own_words(mention)), []).append(mention.start)
    return names_at


def _own_words(mention: Mention) -> list[str]:
    """The words of a mention's name: a person's from their first name, without the
    role the model took in before it (`ministre des Sports Laura Flessel`)."""
    return _split_role(mention)[1]


def _inner_role(mention: Mention) -> list[str]:
    """The role the model took into a person's mention before their first name, in
    lower case (`ministre de la santé`), when it names a person; else nothing."""
    role = [word.lower() for word in _split_role(mention)[0]]
    return role if any(word in HUMAN_NOUNS for word in role) else []


# the particles a name can open with (`de Gaulle`, `van Gogh`)
PARTICLES = frozenset("de d' du des von van der den le la di da ben ibn al el".split())


def _split_role(mention: Mention) -> tuple[list[str], list[str]]:
    """The words the model took into a mention before the name (`ministre de la Santé`
    before `Roman Prymula`), and the name's words."""
    words = name_words(mention.normalized)
    for at in range(1, len(words) - 1):
        role = any(word[:1].islower() for word in words[:at])
        if role and folded(words[at].lower()) in first_names() and words[at + 1][:1].isupper():
            return words[:at], words[at:]
    # a person's name after a word in lower case: that word describes it (`tabloïd
    # Blesk`); not a place's or an organisation's (`place Bellecour`, `institut Ramazzini`)
    lower = bool(words) and words[0][:1].islower() and words[0] not in PARTICLES
    if mention.label == "PER" and lower and len(words) > 1 and _looks_like_name(words[1:]):
        return words[:1], words[1:]
    return [], words


def _person_name(words: list[str], names_at: dict[str, list[int]]) -> list[list[str]]:
    """The longer names (of two words and more, each capitalised) that `words` is the
    last or first part of."""
    n = len(words)
    return [
        full
        for full in map(str.split, names_at)
        if len(full) > n and _looks_like_name(full) and (full[-n:] == words or full[:n] == words)
    ]


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _role_phrase(words: list[str], *, require_role: bool) -> list[str] | None:
    """The determiner and the words after it that describe the name that follows
    (`son secrétaire général`, `l'ambassadrice des États-Unis à l'OTAN`): from the
    last determiner that starts a noun phrase (not one after a preposition, not one
    before a proper noun). With `require_role`, only when its noun names a person."""
    for at in range(len(words) - 1, -1, -1):
        word = words[at].lower()
        if word not in DETERMINERS:
            continue
        noun = words[at + 1] if at + 1 < len(words) else ""
        following = words[at + 2].lower() if at + 2 < len(words) else ""
        if not noun[:1].islower() and following not in HUMAN_NOUNS:  # `le Premier ministre`
            continue
        if at > 0 and words[at - 1].lower() in PREPOSITIONS:
            continue
        if require_role and noun.lower() not in HUMAN_NOUNS:
            return None
        phrase = words[at:]
        if any(w.lower() in _NOT_IN_PHRASE for w in phrase) or (
            not require_role and phrase[-1].lower() in GOVERNING
        ):
            return None
        return phrase
    return None


def _descriptors(text: str, mention: Mention) -> tuple[list[str], list[str], str | None]:
    """What the text says of a person where it names them: the noun phrase just before
    the name (`la toxicologue`, `son secrétaire général`; or before a comma: `l'ambassadrice
    des États-Unis à l'OTAN, Kay Bailey Hutchison`), the apposition after it
    (`, naturopathe`), and a title (`M.`, `Mme`)."""
    window = text[max(0, mention.start - 100) : mention.start]
    cut = max((m.end() for m in _BOUNDARY.finditer(window)), default=0)
    window = window[cut:]
    segments = window.split(",")
    before = _role_phrase(_words(segments[-1]), require_role=False) or []
    title = None
    last = _words(segments[-1])[-1:] or [""]
    if last[0].lower() in TITLES:
        title = last[0].lower()
    if not before and len(segments) > 1 and not segments[-1].strip():
        before = _role_phrase(_words(segments[-2]), require_role=True) or []
    after: list[str] = []
    rest = _NOTE_CALL.sub("", text[mention.end : mention.end + 140])
    if rest.startswith(","):
        clause = _BOUNDARY.split(rest[1:], maxsplit=1)[0]
        clause = _APPOSITION_END.split(clause)[0]
        if not _FINITE_VERB.search(clause.split(",")[0]):  # `Pour X, cette attitude est…`
            after = _words(clause)[:12]
    first = mention.normalized.split()[0].lower() if mention.normalized.split() else ""
    if first in TITLES:
        title = first
    return before, after, title


def _role_cue(phrases: tuple[list[str], ...], *, of_a_person: bool) -> Cue | None:
    """What words describing someone say of their gender: the determiners that open
    the phrases (`la ministre`, `, un jardinier californien`) and the gendered words
    in them (`l'ambassadrice`, `, professeure`), when they agree. With `of_a_person`,
    only phrases whose noun names a person answer (`le film`, `la société` do not)."""
    feminine = masculine = human = False
    for phrase in phrases:
        words = [word.lower() for word in phrase]
        determiner = words[0] if words else ""
        feminine |= determiner in FEMININE_DETERMINERS
        masculine |= determiner in MASCULINE_DETERMINERS
        for word in words[1:] if determiner in DETERMINERS else words:
            feminine |= word in FEMININE_WORDS
            masculine |= word in MASCULINE_WORDS
            human |= word in HUMAN_NOUNS
    if feminine == masculine or (of_a_person and not human):
        return None
    return Cue(FEMALE if feminine else MALE, ROLE)


def role_cue(phrase: str) -> Cue | None:
    """The gender a noun phrase naming a person gives (`la jeune femme`, `un dirigeant
    de LREM`), or None: a quote's speaker the text names by a role."""
    return _role_cue((_words(phrase),), of_a_person=True)


def _cues(
    before: list[str], after: list[str], title: str | None, *, of_a_person: bool
) -> list[Cue]:
    """What a title and the words describing a name say of the person's gender: the
    title (`Mme`), and the role or apposition (`la ministre`, `, professeure`)."""
    cues = []
    if title in FEMININE_TITLES | MASCULINE_TITLES:
        cues.append(Cue(FEMALE if title in FEMININE_TITLES else MALE, TITLE))
    role = _role_cue((before, after), of_a_person=of_a_person)
    if role is not None:
        cues.append(role)
    return cues


def _presents_a_person(before: list[str], title: str | None) -> bool:
    """Whether a title or a role just before a name (`M.`, `la ministre`, `l'étudiante`)
    says it is a person's. Not the words after it: after a place they often open the
    next clause (`À Bruxelles, le ministre a dit`)."""
    return title is not None or any(word.lower() in HUMAN_NOUNS for word in before[1:])


def _gender(cues: list[Cue]) -> str | None:
    """ "f" or "m" when the cues agree, else None."""
    genders = {cue.gender for cue in cues}
    if len(genders) != 1:
        return None
    return "f" if genders == {FEMALE} else "m"


def _nearest(candidates: list[list[str]], names_at: dict[str, list[int]], position: int) -> str:
    """Of several full names, the one named last before `position` (else first after)."""

    def key(full: list[str]) -> tuple[int, int]:
        starts = names_at[" ".join(full)]
        before = [s for s in starts if s < position]
        return (0, -max(before)) if before else (1, min(starts))

    return " ".join(min(candidates, key=key))


def identities(text: str, mentions: list[Mention]) -> People:
    """Every mention's canonical name and the identities they make up.

    A person named by part of a fuller name of the article gets the fuller one (the
    last name `Stoltenberg` or the first name `Marie-Pierre`, whatever label the model
    gave that mention); of several (`Emmanuel Macron`, `Brigitte Macron`), the one
    named last before it. An organisation's acronym given in brackets after its name
    gets the name. Anything else is its own `normalized` form."""
    acronyms = _acronyms(text, mentions)
    names_at = _full_names_at(mentions, "PER")
    # a full name the model left unclassed is a person's when it also tags part of it
    # as one: `du général iranien Qassem Soleimani` (MISC), later `Soleimani` (PER)
    unclassed_at = _full_names_at(mentions, "MISC")
    canonical = [_canonical_name(m, acronyms, names_at, unclassed_at) for m in mentions]
    by_name, identity_of = _identities_of(mentions, canonical, names_at)
    presented: list[Identity] = []  # names of another label the text presents as a person
    for mention in mentions:
        identity = identity_of[mention.index]
        # roles and genders are looked up for people only
        if identity.label in ("PER", "MISC") and _describe(text, mention, identity):
            presented.append(identity)
    for identity in by_name.values():
        if identity.gender == "?":
            identity.gender = None
    for identity in presented:
        identity.label = "PER"  # a title or a role says it: a person the model mislabelled
    return People(canonical=canonical, identity_of=identity_of, identities=by_name)


def _canonical_name(
    mention: Mention,
    acronyms: dict[str, str],
    names_at: dict[str, list[int]],
    unclassed_at: dict[str, list[int]],
) -> str:
    """The name of the article a mention stands for: the full name of an acronym, the
    nearest fuller name of a person, else its own name without titles."""
    words = _own_words(mention)
    if mention.normalized in acronyms:
        return acronyms[mention.normalized]
    name = " ".join(words) or mention.normalized
    if mention.label == "ORG" or not _looks_like_name(words):
        return name
    longer, at = _person_name(words, names_at), names_at
    if not longer and mention.label == "PER":
        longer, at = _person_name(words, unclassed_at), unclassed_at
    return _nearest(longer, at, mention.start) if longer else name


def _identities_of(
    mentions: list[Mention], canonical: list[str], names_at: dict[str, list[int]]
) -> tuple[dict[str, Identity], dict[int, Identity]]:
    """The identity of each canonical name, and of each entity index: a name that is a
    person's anywhere in the article is a person's wherever it is named."""
    by_name: dict[str, Identity] = {}
    identity_of: dict[int, Identity] = {}
    for mention, name in zip(mentions, canonical, strict=True):
        person = name in names_at or mention.label == "PER" or _inner_role(mention)
        label = "PER" if person else mention.label
        identity = by_name.setdefault(name, Identity(name, label))
        if label == "PER":
            identity.label = "PER"
        identity.mentions.append(mention.index)
        identity_of[mention.index] = identity
    return by_name, identity_of


def _describe(text: str, mention: Mention, identity: Identity) -> bool:
    """Add to an identity what the text says of it where the mention names it: its
    roles and the cues of its gender (contradicting cues make it "?"). Whether a title
    or a role there presents a name of another label as a person's."""
    before, after, title = _descriptors(text, mention)
    words = (w.lower() for w in (*before, *after, *_inner_role(mention)))
    identity.roles.update(w for w in words if w not in _STOP_WORDS)
    cues = _cues(before, after, title, of_a_person=not identity.is_person)
    identity.cues.extend(cues)
    agreed = agreement(text, mention.end)
    if agreed is not None:
        identity.cues.append(Cue(agreed, AGREEMENT))
    gender = _gender(cues)
    if gender is not None and identity.gender not in (None, gender):
        identity.gender = "?"  # contradicting cues: say nothing
    elif gender is not None and identity.gender is None:
        identity.gender = gender
    return not identity.is_person and _presents_a_person(before, title)
