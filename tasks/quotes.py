"""Who said what: quotes and their speakers, found in an article's text.

Rules over the normalized text (see tasks/clean.py: `« »` with plain spaces, `"`
for the other double quotes) and the article's entities with their identities
(tasks/people.py); no parser. `find_quotes` returns, in text order:

- **direct** quotes: the words between guillemets (or straight double quotes),
  a quote reopened at the start of the next paragraph running on; a quote with an
  inserted attribution (`« A, a-t-il dit. B »`) is two quotes of one speaker;
- **partial** quotes: a few quoted words inside the journalist's sentence, when
  that sentence says who said them (`le philosophe dénonce les « commissions
  spéciales »`);
- **indirect** quotes: reported speech — `X a affirmé que P`, `P, a averti X`,
  `selon X, P`, `pour X, P`, `C'est ce qu'a annoncé X`.

A short quoted phrase nobody in its sentence says (a title, a scare-quoted term,
`le mot « infox »`) is not a quote. The speaker is read where the text gives it:
after the quote (`», a assuré Jens Stoltenberg`), inside it (`a-t-elle ajouté`),
before it (`Il poursuit : «`, `Pour elle, «`), or from the quote before (a quote
that follows one of the same person). A pronoun (`a-t-il indiqué`, `il a dit`)
is the person last named or quoted, of the pronoun's gender when the text gives
theirs; a role (`la toxicologue`, `le secrétaire général`) is the person the
article names with that role. An unnamed source (`a-t-on indiqué`, `un proche du
ministre`) and a quote the text attributes to nobody get no speaker.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace

from tasks.gender import AGREEMENT, FEMALE, MALE, PRONOUN, Cue, first_names
from tasks.people import (
    DETERMINERS,
    FEMININE_DETERMINERS,
    HUMAN_NOUNS,
    MASCULINE_DETERMINERS,
    PREPOSITIONS,
    Identity,
    Mention,
    People,
)

# -- reporting verbs ----------------------------------------------------------------

_FIRST_GROUP = """
    affirmer déclarer assurer annoncer expliquer indiquer préciser ajouter souligner
    insister estimer juger considérer constater noter observer relever regretter déplorer
    dénoncer critiquer fustiger raconter témoigner confirmer nier révéler signaler
    mentionner tweeter commenter exclamer interroger demander plaider argumenter avancer
    détailler évoquer ironiser amuser étonner féliciter indigner alarmer inquiéter
    murmurer crier soupirer conseiller recommander préconiser asséner assener marteler
    répéter résumer trancher tempérer nuancer enchaîner continuer lancer rétorquer
    répliquer objecter protester avouer confesser jurer certifier alerter glisser lâcher
    souffler confier rappeler qualifier classer penser réaffirmer rapporter relater
    informer exposer clamer proclamer pointer concéder suggérer énumérer saluer
""".split()
# present stems that change their accent or double a consonant (il considère, il rappelle)
_PRESENT_STEMS = {
    "considérer": "considèr",
    "révéler": "révèl",
    "inquiéter": "inquièt",
    "asséner": "assèn",
    "assener": "assèn",
    "marteler": "martèl",
    "répéter": "répèt",
    "tempérer": "tempèr",
    "concéder": "concèd",
    "suggérer": "suggèr",
    "rappeler": "rappell",
    "énumérer": "énumèr",
}
_IRREGULAR = {
    # lemma: (3rd person finite forms, past participle stem)
    "dire": ("dit disent disait disaient dirent", "dit"),
    "prédire": ("prédit prédisent prédisait", "prédit"),
    "écrire": ("écrit écrivent écrivait écrivaient écrivit", "écrit"),
    "décrire": ("décrit décrivent décrivait", "décrit"),
    "avertir": ("avertit avertissent avertissait", "averti"),
    "réagir": ("réagit réagissent réagissait réagirent", "réagi"),
    "renchérir": ("renchérit renchérissent", "renchéri"),
    "garantir": ("garantit garantissent garantissait", "garanti"),
    "démentir": ("dément démentent démentait", "démenti"),
    "conclure": ("conclut concluent concluait", "conclu"),
    "reconnaître": ("reconnaît reconnait reconnaissent reconnaissait reconnut", "reconnu"),
    "admettre": ("admet admettent admettait admit", "admis"),
    "promettre": ("promet promettent promettait promit", "promis"),
    "soutenir": ("soutient soutiennent soutenait soutint", "soutenu"),
    "maintenir": ("maintient maintiennent maintenait", "maintenu"),
    "prévenir": ("prévient préviennent prévenait prévint", "prévenu"),
    "poursuivre": ("poursuit poursuivent poursuivait poursuivit", "poursuivi"),
    "répondre": ("répond répondent répondait répondit", "répondu"),
    "croire": ("croit croient croyait", "cru"),
    "mettre": ("", "mis"),  # only inverted (`met-il en perspective`): `met` alone is too common
}
# verbs that report an opinion rather than words: they introduce `que P` only
_OPINION = frozenset({"penser", "croire", "juger", "considérer"})
# reporting verbs whose past participle also qualifies a quoted phrase (`qualifié de « … »`)
_QUALIFYING = frozenset({"qualifier", "classer", "décrire", "juger", "considérer", "dénoncer"})
_SUBJECTS = ("il", "elle", "on", "ils", "elles")
# words before `le`/`la`/`les` when these are object pronouns (`comme le rappelle X`)
_BEFORE_OBJECT_PRONOUN = frozenset(
    "nous vous il elle on ils elles je ne n comme qui que qu me te se".split()
)
AUXILIARIES = frozenset(
    "a ont avait avaient aurait auraient ait aient aura auront eut est sont était étaient".split()
)
_ADVERBS = frozenset(
    """
    aussi encore déjà ainsi également bien toutefois pourtant notamment enfin alors
    récemment ensuite cependant souvent clairement publiquement fermement aussitôt
    hier lundi mardi mercredi jeudi vendredi samedi dimanche matin soir immédiatement
    lui-même elle-même longtemps même jamais pas ne n plus tout
    """.split()
)


def _first_group_forms(lemma: str) -> tuple[list[str], str]:
    stem = lemma[:-2]
    present = _PRESENT_STEMS.get(lemma, stem)
    if stem.endswith("c"):
        past = stem[:-1] + "ç"  # il annonçait, il annonça
    elif stem.endswith("g"):
        past = stem + "e"  # il jugeait
    else:
        past = stem
    finite = [present + "e", present + "ent", past + "ait", past + "aient", past + "a"]
    return finite, stem + "é"


def _verb_forms() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """(finite 3rd-person forms → lemma, past participles → lemma, inverted forms →
    (lemma, pronoun)) of every reporting verb."""
    finite: dict[str, str] = {}
    participles: dict[str, str] = {}
    inverted: dict[str, tuple[str, str]] = {}
    conjugated = {lemma: _first_group_forms(lemma) for lemma in _FIRST_GROUP}
    conjugated |= {lemma: (forms.split(), pp) for lemma, (forms, pp) in _IRREGULAR.items()}
    conjugated["mettre"] = (["met", "mettait"], "mis")
    for lemma, (forms, pp) in conjugated.items():
        for form in forms:
            if lemma != "mettre":
                finite[form] = lemma
            link = "-t-" if form[-1] in "ae" else "-"
            for pronoun in _SUBJECTS:
                inverted[f"{form}{link}{pronoun}"] = (lemma, pronoun)
        for ending in ("", "e", "s", "es"):
            if not (pp.endswith("s") and ending.startswith("s")):
                participles[pp + ending] = lemma
    return finite, participles, inverted


FINITE, PARTICIPLES, INVERTED = _verb_forms()
_INVERTED_AUX: dict[str, str] = {
    f"{aux}{'-t-' if aux[-1] in 'ae' else '-'}{pronoun}": pronoun
    for aux in ("a", "ont", "avait", "avaient", "aurait", "auraient", "est", "sont", "était")
    for pronoun in _SUBJECTS
}

# the words a reporting verb can start with
_KEYWORDS = (
    frozenset(FINITE)
    | frozenset(INVERTED)
    | frozenset(_INVERTED_AUX)
    | AUXILIARIES
    | frozenset(p for p, lemma in PARTICIPLES.items() if lemma in _QUALIFYING)
)

# -- words and spans ----------------------------------------------------------------

_TOKEN = re.compile(r"\w+(?:-\w+)*")
_INDEFINITE = frozenset(
    "un une des d plusieurs certains certaines quelques nombre autres aucun aucune".split()
)
_POSSESSIVES = frozenset({"son", "sa", "ses", "leur", "leurs"})
_PLURAL_PRONOUNS = frozenset({"ils", "elles", "eux", "on", "nous", "vous", "je", "j", "leur"})
_ORG_NOUNS = frozenset(
    """
    agence office ministère gouvernement entreprise société groupe firme organisation
    institut commission ville municipalité mairie préfecture police syndicat parti
    association fédération conseil cour tribunal banque autorité ong direction
    administration régie compagnie fondation observatoire collectif
    """.split()
)
_DOCUMENT_NOUNS = frozenset(
    """
    rapport communiqué étude texte note document lettre déclaration article message
    tweet livre ouvrage enquête sondage chiffres statistiques données bilan avis
    décision jugement arrêt
    """.split()
)
# groups of people that speak as one (`l'opposition écologiste`)
_GROUP_NOUNS = frozenset(
    """
    opposition majorité gauche droite élus syndicats opposants manifestants habitants
    riverains salariés grévistes militants associations jury détracteurs partisans experts
    """.split()
)
MEDIA_NOUNS = frozenset(
    """
    journal quotidien hebdomadaire mensuel magazine revue radio chaîne télévision site
    média médias presse agence-presse rédaction
    """.split()
)
# publications and broadcasters most often cited as a source by French-language news
MEDIA_NAMES = frozenset(
    (
        "monde", "figaro", "libération", "mediapart", "afp", "agence france-presse", "reuters",
        "bloomberg", "obs", "parisien", "échos", "express", "point", "marianne", "croix",
        "humanité", "canard enchaîné", "journal du dimanche", "jdd", "ouest-france", "devoir",
        "presse", "bfmtv", "tf1", "lci", "rtl", "europe 1", "franceinfo", "france info",
        "france inter", "france culture", "france 2", "france 3", "france 24", "rfi",
        "cnews", "radio-canada", "new york times", "washington post", "guardian", "bbc",
        "cnn", "politico", "associated press", "wall street journal", "financial times",
    )
)  # fmt: skip
_MENTION_WORDS = re.compile(
    r"\b(?:mot|mots|terme|termes|slogan|nom|titre|intitulé|intitulée|hashtag|poncif|vocable|"
    r"expression|expressions|qualificatif|formule|baptisée?s?|surnommée?s?|appelée?s?|"
    r"dénommée?s?|nommée?s?|celui de|celle de|ceux de|(?<!s'est )(?<!se )dit|dite)\s*$",
    re.I,
)
# determiners that make a quoted word a name or a term (`un « mais »`)
_DEFINITE = frozenset({"le", "la", "les", "l"})
_NAMING_DETERMINERS = frozenset(
    "un une le la les l ce cette ces son sa ses leur leurs notre nos votre vos".split()
)
_ADVERBIAL = re.compile(
    r"(?:\s*,?\s*(?:quant à (?:elle|lui|eux|elles)|pour (?:sa|leur) part|de (?:son|leur) côté"
    r"|en substance|en conclusion|en outre|d'ailleurs|à (?:son|leur) tour|(?:lui|elle) aussi"
    r"|plus tard|dans la foulée|aujourd'hui|(?:"
    + "|".join(sorted(_ADVERBS - {"ne", "n", "pas", "plus", "tout", "même"}))
    + r")(?:\s+(?:matin|soir|après-midi))?)\b)+"
)
_NP_STOP = re.compile(
    r"[.;:!?«»\"()\[\]\n]|,\s+(?=[a-zà-ÿ])|\s(?:qui|que|qu'|dont|lors|dans|devant|sur|pendant|"
    r"avant|après|depuis|lorsqu'|lorsque|tout en|en marge|via|car|mais|au cours|au micro|"
    r"à l'issue|à la|à l'|au|aux|à|en|pour|par|avec|chez)\b"
)
_WORDS_COUNT = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…]+(?:\s*[»\"])?(?=\s+[«\"A-ZÀ-Ý0-9])")
_ABBREVIATION = re.compile(r"(?:\b(?:M|Mme|Mlle|MM|Dr|Pr|Me|Mgr|St|Ste|etc|av|J\.-C)|\b[A-Z])$")
_POUR = re.compile(r"(?<![\w'])(?P<prep>[Pp]our|[Ss]elon|[Dd]'après)\s+")
_LEAD_PREPOSITION = re.compile(r"(?:pour|selon|d'après)\s+")
_SELON = re.compile(r"(?:selon|d'après)\s")
# `selon` of a criterion: before `que`, or after a participle of sorting or varying
_CRITERION = re.compile(
    r"(?:[Ss]elon|[Dd]'après)\s+qu|\w(?:é|ée|és|ées|is|ies|ient|ent)\s+(?:selon|d'après)\s+\S*$"
)
_SELON_INSIDE = re.compile(r"(?:,\s*|\s)(?:selon|d'après)\s+")
_ENDS_WITH_PRONOUN = re.compile(r"(?:^|[\s,])(il|elle|ils|elles|on)\s*$", re.I)
_LEADING_PRONOUN = re.compile(r"\s*(Il|Elle)\b")
_ONE_OF = re.compile(r"\s*(?:l'|l’)?(?:un|une)\s+d(?:es|e)\b")
_PHRASE_STOP = re.compile(r"\s(?:à|au|aux|en|pour|sur|chez|avec|dans|par)\s")
_LINK_WORDS = re.compile(r"\b(?:de|d'|comme|que|qu'|:)")
_AFTER_QUOTE = re.compile(r"[»\"]\s*,\s*$")
_ENDS_WITH_COMMA = re.compile(r",\s*$")
_COMME = re.compile(r"\b[Cc]omme\s+(?:\w+\s+){0,3}$")
_QUE_WORD = re.compile(r"\b(?:que|qu')\b")
_INCISE_END = re.compile(r"[.,;!?](?=\s)|\s[–—]\s")
_AGENT = re.compile(r"[»\"]?\s*par\s+")
_COLON_QUOTE = re.compile(r"\s*:\s*[«\"]")
_PARAGRAPH = re.compile(r"\n\n")
_YEUX = re.compile(
    r"\b[AÀàa](?:ux yeux d[eu']\s*|\s+(?P<pos>ses|son|leur|leurs)\s+(?:yeux|avis|sens))"
)


def _pronoun_cue(text: str, start: int, word: str) -> Cue:
    """The gender a speaker's pronoun gives: the attribution agrees with the speaker
    when the pronoun is inverted (`a-t-elle expliqué`), else it is a pronoun resolved
    to them (`elle a expliqué`)."""
    inverted = text[max(0, start - 1) : start] == "-"
    return Cue(FEMALE if word == "elle" else MALE, AGREEMENT if inverted else PRONOUN)


@dataclass(frozen=True)
class Quote:
    """One quote: the quoted words, how it is quoted, and who said it."""

    start: int
    end: int
    kind: str  # direct, partial, indirect
    verb: str | None = None
    speaker: str | None = None
    speaker_start: int | None = None
    speaker_end: int | None = None
    entity: int | None = None
    canonical: str | None = None
    speaker_kind: str = "unknown"  # person, organisation, media, unknown
    quote_id: int = 0  # index of the quote's first segment: a continuation shares it


@dataclass(frozen=True)
class _Verb:
    start: int
    end: int
    lemma: str
    pronoun: str | None  # the inverted subject (`a-t-il dit`), if any
    participle_only: bool = False  # a participle without auxiliary (`qualifié de`)
    pronoun_end: int = 0  # where the inverted subject ends

    def subject(self) -> _Source | None:
        """The inverted subject as a source (`-t-elle` of `a-t-elle expliqué`)."""
        if self.pronoun is None:
            return None
        return _Source(self.pronoun_end - len(self.pronoun), self.pronoun_end, "pronoun")


@dataclass(frozen=True)
class _Source:
    """Who a quote is attributed to, as written: a pronoun, an entity, or a noun phrase."""

    start: int
    end: int
    kind: str  # pronoun, entity, role, unnamed
    entity: int | None = None


@dataclass
class _Found:
    start: int
    end: int
    kind: str
    verb: _Verb | None = None
    source: _Source | None = None
    continues: bool = False  # may take the speaker of the quote before
    position: int = 0  # where the attribution is, for the order of resolution


@dataclass
class _Text:
    """The article's text with what the rules look up in it."""

    text: str
    mentions: list[Mention]
    people: People
    quoted: list[tuple[int, int]] = field(default_factory=list)  # guillemet spans, marks included
    sentences: list[tuple[int, int]] = field(default_factory=list)
    paragraphs: list[int] = field(default_factory=list)  # start of each paragraph
    verbs: list[_Verb] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inside_quote = _Coverage(self.quoted)
        self._mention_starts = [m.start for m in self.mentions]
        self._verb_starts = [v.start for v in self.verbs]

    def verbs_between(self, start: int, end: int) -> list[_Verb]:
        """The reporting verbs that start in [start, end)."""
        starts = self._verb_starts
        return self.verbs[bisect_left(starts, start) : bisect_left(starts, end)]

    def verb_at(self, position: int) -> _Verb | None:
        return next(iter(self.verbs_between(position, position + 1)), None)

    def sentence_of(self, position: int) -> tuple[int, int]:
        at = bisect_right(self.sentences, (position, len(self.text) + 1)) - 1
        if at >= 0 and self.sentences[at][0] <= position < self.sentences[at][1]:
            return self.sentences[at]
        return position, position

    def previous_sentence_start(self, position: int) -> int:
        """Where the sentence before the one at `position` starts."""
        at = bisect_right(self.sentences, (position, len(self.text) + 1)) - 1
        return self.sentences[max(0, at - 1)][0] if at >= 0 else position

    def paragraph_of(self, position: int) -> int:
        return bisect_right(self.paragraphs, position) - 1

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        at = bisect_left(self._mention_starts, start)
        found = []
        for mention in self.mentions[at:]:
            if mention.start >= end:
                break
            if mention.end <= end:
                found.append(mention)
        return found


# -- quoted spans -------------------------------------------------------------------


_MARKS = re.compile(r"[«»]|\n\n")


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Every quotation, marks included, outermost only: `« … »` (a paragraph that
    reopens `«` before the previous one closed runs on; one that never closes ends
    with its paragraph) and `"…"` paired within a paragraph outside them."""
    spans: list[tuple[int, int]] = []
    depth, opened, skip = 0, -1, -1
    for mark in _MARKS.finditer(text):
        position, char = mark.start(), mark.group()
        if position == skip:
            continue  # the `«` that reopens a quote in its next paragraph
        if char == "«":
            if depth == 0:
                opened = position
            depth += 1
        elif char == "»" and depth:
            depth -= 1
            if depth == 0:
                spans.append((opened, position + 1))
        elif char == "\n\n" and depth:
            if text.startswith("«", mark.end()):
                skip = mark.end()  # the same quote goes on in the next paragraph
                continue
            spans.append((opened, position))
            depth = 0
    if depth:
        spans.append((opened, len(text)))
    inside = _Coverage(spans)
    straight: list[tuple[int, int]] = []
    offset = 0
    for paragraph in text.split("\n\n"):
        marks = [
            offset + i
            for i, char in enumerate(paragraph)
            if char == '"' and not inside(offset + i)
        ] if '"' in paragraph else []  # fmt: skip
        straight += [(marks[i], marks[i + 1] + 1) for i in range(0, len(marks) - 1, 2)]
        offset += len(paragraph) + 2
    return sorted(spans + straight)


def _inner(text: str, start: int, end: int) -> tuple[int, int]:
    """The quoted words of a span: without the marks and the spaces inside them (and
    without the reopening marks of a quote over several paragraphs at its ends)."""
    start += 1
    if end > start and text[end - 1] in '»"':
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentences(text: str, quoted: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences outside the quotes (a quote of several sentences stays in one)."""
    cuts = {0, len(text)}
    inside = _Coverage(quoted)
    for match in _PARAGRAPH.finditer(text):
        if not inside(match.start()):
            cuts.update((match.start(), match.end()))
    for match in _SENTENCE_END.finditer(text):
        if inside(match.start()) and text[match.end() - 1] not in '»"':
            continue
        if text[match.start()] == "." and _ABBREVIATION.search(
            text, max(0, match.start() - 12), match.start()
        ):
            continue
        cuts.add(match.end())
    ordered = sorted(cuts)
    sentences = []
    for start, end in itertools.pairwise(ordered):
        while start < end and text[start].isspace():
            start += 1
        if start < end:
            sentences.append((start, end))
    return sentences


class _Coverage:
    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in spans]
        self.spans = spans

    def __call__(self, position: int) -> bool:
        at = bisect_right(self.starts, position) - 1
        return at >= 0 and self.spans[at][0] < position < self.spans[at][1]


# -- reporting verbs in the text ----------------------------------------------------


def _reporting_verbs(text: str) -> list[_Verb]:
    """Every reporting verb of the text: `affirme`, `a affirmé`, `affirme-t-elle`,
    `a-t-il affirmé`, `s'est dit`, `qualifié` (a participle alone)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer (İ): keep offsets
        lowered = "".join(ch.lower()[0] for ch in text)
    words = _TOKEN.findall(lowered)
    candidates = [at for at, word in enumerate(words) if word in _KEYWORDS]
    if not candidates:
        return []
    spans = [m.span() for m in _TOKEN.finditer(lowered)]
    found = []
    skip_until = -1
    for at in candidates:
        word, (start, end) = words[at], spans[at]
        if start < skip_until:
            continue
        before = words[at - 1] if at else ""
        if word in INVERTED:
            lemma, pronoun = INVERTED[word]
            found.append(_Verb(start, end, lemma, pronoun, pronoun_end=end))
        elif word in AUXILIARIES or word in _INVERTED_AUX:
            follow = at + 1
            while follow < len(words) and words[follow] in _ADVERBS and follow - at <= 3:
                follow += 1
            if follow < len(words) and words[follow] in PARTICIPLES:
                reflexive = before in ("s", "se")
                if word in ("est", "sont", "était") and not reflexive:
                    continue  # a passive (`est considéré`), not a reporting verb
                verb_end = spans[follow][1]
                pronoun = _INVERTED_AUX.get(word)
                lemma = PARTICIPLES[words[follow]]
                first = spans[at - 1][0] if reflexive else start  # `s'est félicité`
                found.append(_Verb(first, verb_end, lemma, pronoun, pronoun_end=end))
                skip_until = verb_end
        elif word in FINITE:
            earlier = words[at - 2] if at > 1 else ""
            if (
                before in DETERMINERS
                or before in ("les", "des", "de", "d", "une", "ses", "ces", "en")
            ) and earlier not in _BEFORE_OBJECT_PRONOUN:
                continue  # a noun: `une note`, `la demande`, `l'estime`; not `comme le dit`
            found.append(_Verb(start, end, FINITE[word], None))
        elif word in PARTICIPLES and PARTICIPLES[word] in _QUALIFYING and before not in AUXILIARIES:
            found.append(_Verb(start, end, PARTICIPLES[word], None, participle_only=True))
    return found


# -- who: noun phrases ----------------------------------------------------------------


def _skip_adverbials(text: str, position: int) -> int:
    match = _ADVERBIAL.match(text, position)
    return match.end() if match else position


def _is_person_like(doc: _Text, mention: Mention) -> bool:
    identity = doc.people.identity_of[mention.index]
    return identity.is_person or _misc_name(identity, mention.label, mention.normalized)


def _misc_name(identity: Identity, label: str, name: str) -> bool:
    """A name the model left unclassed that reads like a person's: two or three
    capitalized words (`Tadej Pogačar`), or one that is a first name (`Zineb`) or that
    the text calls by a word for a person (`Antoine, chargé de cours`). One capitalized
    word alone is otherwise a network, a brand or a title (`Facebook ou Twitter`) as
    often as a person."""
    words = name.split()
    if label != "MISC" or not 0 < len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return False
    return (
        len(words) > 1 or words[0].casefold() in first_names() or bool(identity.roles & HUMAN_NOUNS)
    )


def _source_after(doc: _Text, position: int, limit: int) -> _Source | None:
    """The speaker named from `position` on (after a verb or `selon`): a pronoun, a
    person, an entity that opens the phrase, or the noun phrase itself."""
    text = doc.text
    position = _skip_adverbials(text, position)
    while position < limit and text[position] == " ":
        position += 1
    lead = _LEAD_PREPOSITION.match(text[position:limit])
    if lead:
        position += lead.end()
    word = _TOKEN.match(text, position)
    if word is None or position >= limit:
        return None
    first = word.group().lower()
    if first in ("il", "elle", "ils", "elles", "on", "lui", "eux"):
        return _Source(position, word.end(), "pronoun")
    stop = _NP_STOP.search(text, position, limit)
    phrase_end = stop.start() if stop else limit
    phrase = text[position:phrase_end].rstrip(" ,")
    if not phrase:
        return None
    # a name after a comma goes on a role: `l'ambassadrice des États-Unis, Kay Hutchison`;
    # not on a time or a circumstance (`la première fois du quinquennat, Emmanuel Macron`)
    window_end = phrase_end
    role = _head_noun(phrase) in HUMAN_NOUNS or not _TOKEN.match(phrase).group()[:1].islower()
    for mention in doc.mentions_in(position, limit):
        if role and mention.start <= window_end + 2 and _is_person_like(doc, mention):
            window_end = max(window_end, mention.end)
    if first in _INDEFINITE or text.startswith("d'", position):
        return _Source(position, position + len(phrase), "unnamed")
    inside = [m for m in doc.mentions_in(position, window_end) if m.start < window_end]
    persons = [m for m in inside if _is_person_like(doc, m)]
    if not persons and _head_noun(phrase) in HUMAN_NOUNS:
        # the name after a role, whatever the model took it for: `le président, Damien Castelain`
        persons = [m for m in inside if text[max(position, m.start - 2) : m.start] == ", "]
    if persons:
        return _Source(position, persons[0].end, "entity", persons[0].index)
    leading = [m for m in inside if len(_TOKEN.findall(text[position : m.start])) <= 1]
    if leading:
        return _Source(position, leading[0].end, "entity", leading[0].index)
    head = _head_noun(phrase)
    if head in _DOCUMENT_NOUNS and inside:
        return _Source(position, inside[-1].end, "entity", inside[-1].index)
    return _Source(position, position + len(phrase), "role")


def _head_noun(phrase: str) -> str:
    """The noun a noun phrase is about: `la jeune femme` → `femme`, `le dernier rapport du
    Forum` → `rapport`."""
    words = [w.lower() for w in _TOKEN.findall(phrase)]
    while words and (words[0] in DETERMINERS or words[0] in _POSSESSIVES or words[0] == "les"):
        words = words[1:]
    head = ""
    for at, word in enumerate(words):
        if word in PREPOSITIONS or word in ("du", "des", "au", "aux"):
            break
        head = word
        if word in _ORDINALS and at + 1 < len(words) and words[at + 1] not in PREPOSITIONS:
            continue  # `la première fois`, not `la première`
        if word in HUMAN_NOUNS or word in _ORG_NOUNS or word in _DOCUMENT_NOUNS:
            return word
    return head


_ORDINALS = frozenset({"premier", "première", "dernier", "dernière"})


def _clause_parts(segment: str) -> list[tuple[int, str]]:
    """The comma-separated parts of a clause with their offsets (brackets kept whole)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(segment):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append((start, segment[start:i]))
            start = i + 1
    parts.append((start, segment[start:]))
    return parts


_TRAILING = re.compile(
    r"(?:\s+(?:ne|n'|se|s'|l'|le|la|les|lui|leur|en|y|et|aussi|encore|ainsi|également|bien|"
    r"quant à (?:elle|lui|eux|elles)|pour (?:sa|leur) part|lui-même|elle-même)|n'|s'|l')\s*$"
)


def _source_before(doc: _Text, floor: int, position: int) -> _Source | None:
    """The subject of a verb at `position`, in its clause from `floor`: a pronoun, the
    first entity or noun phrase of the last part that is not an apposition
    (`Marie-Pierre Dausse, professeur d'histoire, défend` → Marie-Pierre Dausse)."""
    text = doc.text
    segment = text[floor:position]
    while True:
        trimmed = _TRAILING.sub("", segment)
        if trimmed == segment:
            break
        segment = trimmed
    pronoun = _ENDS_WITH_PRONOUN.search(segment)
    if pronoun:
        start = floor + pronoun.start(1)
        return _Source(start, start + len(pronoun.group(1)), "pronoun")
    for offset, part in reversed(_clause_parts(segment)):
        if not part.strip():
            continue
        start = floor + offset
        end = start + len(part)
        source = _subject_of_part(doc, start, end)
        if source is not None:
            return source
    return None


def _subject_of_part(doc: _Text, start: int, end: int) -> _Source | None:
    text = doc.text
    part = text[start:end]
    words = [(m.start() + start, m.group()) for m in _TOKEN.finditer(part)]
    if not words:
        return None
    lead = words[0][1].lower()
    if lead in ("il", "elle", "ils", "elles", "on"):
        return _Source(words[0][0], words[0][0] + len(words[0][1]), "pronoun")
    if _ONE_OF.match(part):
        return None  # an apposition: `une des agences de l'OMS`
    for mention in doc.mentions_in(start, end):
        preceding = _TOKEN.findall(text[start : mention.start])
        if not preceding or preceding[-1].lower() not in PREPOSITIONS | {"du", "des", "au", "aux"}:
            return _Source(mention.start, mention.end, "entity", mention.index)
    for at, (word_start, word) in enumerate(words):
        lowered = word.lower()
        if lowered in DETERMINERS | _POSSESSIVES | {"les"} | _INDEFINITE:
            if at and words[at - 1][1].lower() in PREPOSITIONS:
                continue
            phrase = text[word_start:end].strip()
            stop = _PHRASE_STOP.search(phrase)
            phrase = phrase[: stop.start()] if stop else phrase
            kind = "unnamed" if lowered in _INDEFINITE else "role"
            return _Source(word_start, word_start + len(phrase), kind)
    return None


def _speaker_after_preposition(
    doc: _Text, preposition: int, after: int, limit: int
) -> _Source | None:
    """Who `selon`, `d'après`, `pour` at `preposition` names (from `after`), when it is
    someone who can speak: not a criterion (`selon qu'il s'agit`, `classés selon la
    source`, `selon les domaines`), not a time (`pour la première fois`)."""
    text = doc.text
    if _CRITERION.search(text[max(0, preposition - 30) : after + 3]):
        return None
    # what comes before a comma must be able to speak on its own: `la première fois du
    # quinquennat, Emmanuel Macron` is a time and then the sentence's subject
    comma = text.find(",", after, limit)
    if comma > after:
        alone = _source_after(doc, after, comma)
        if alone is None or not _can_speak(doc, alone):
            return None
    source = _source_after(doc, after, limit)
    return source if source is not None and _can_speak(doc, source) else None


def _preposition_source(doc: _Text, start: int, end: int) -> _Source | None:
    """`pour X`, `selon X`, `d'après X`, `à ses yeux` in text[start:end]: X, when X
    can be a speaker (a pronoun, an entity, a person's noun phrase)."""
    text = doc.text
    yeux = _YEUX.search(text, start, end)
    if yeux and yeux.group("pos"):
        return _Source(yeux.start("pos"), yeux.end("pos"), "pronoun")
    for match in _POUR.finditer(text, start, end):
        after = match.end()
        source = _speaker_after_preposition(doc, match.start(), after, end)
        if source is None:
            continue
        word = _TOKEN.match(text, after).group().lower() if _TOKEN.match(text, after) else ""
        if match.group("prep").lower() == "pour":
            if source.kind == "unnamed":
                continue
            if source.kind == "role" and _head_noun(text[source.start : source.end]) in (
                _DOCUMENT_NOUNS
            ):
                continue  # `pour ce rapport`: what it is for, not who says
            if source.kind == "pronoun" and word not in ("lui", "elle", "eux", "elles"):
                continue
        return source
    return None


# -- the quotes -----------------------------------------------------------------------


def _pieces(
    doc: _Text, start: int, end: int
) -> list[tuple[int, int, _Verb | None, _Source | None]]:
    """The quoted words of a span, cut where an attribution is inserted into them
    (`« A, affirme-t-elle. B »`): each piece with the inserted verb and speaker."""
    text = doc.text
    inner_start, inner_end = _inner(text, start, end)
    pieces = []
    cursor = inner_start
    for verb in doc.verbs_between(inner_start + 1, inner_end):
        if verb.start < cursor:
            continue
        before = text[cursor : verb.start].rstrip()
        if not before or before[-1] not in ",–—-":
            continue
        if verb.pronoun is None and not re.match(
            r"\s+(?:[A-ZÀ-Ý]|l[ea] |l')", text[verb.end : verb.end + 4]
        ):
            continue
        stop = _INCISE_END.search(text, verb.end, inner_end)
        if stop is None:
            continue
        source = verb.subject() or _source_after(doc, verb.end, stop.start())
        piece_end = cursor + len(before.rstrip(",–—- "))
        pieces.append((cursor, piece_end, verb, source))
        cursor = stop.end()
        while cursor < inner_end and text[cursor].isspace():
            cursor += 1
    if cursor < inner_end:
        pieces.append((cursor, inner_end, None, None))
    return pieces


def _kind(text: str, start: int, words: int, after_colon: bool) -> str:
    """`direct` for a quoted sentence (or more), `partial` for quoted words inside the
    journalist's sentence."""
    before = text[max(0, start - 200) : start].rstrip(' «"')
    starts_sentence = not before or before[-1] in ".!?:\n" or before.endswith("»")
    if text[start : start + 1].isupper() or (starts_sentence and (words >= 6 or not after_colon)):
        return "direct"
    if before.endswith(",") and words >= 7:
        return "direct"
    return "partial"


def _attribution_after(doc: _Text, close: int, limit: int) -> tuple[_Verb | None, _Source | None]:
    """The attribution right after a quote's closing mark: `», a assuré X`, `»,
    a-t-elle expliqué`, `» selon X`, `" par X` (after `qualifié de`)."""
    text = doc.text
    position = close
    while position < limit and text[position] in " ,":
        position += 1
    verb = doc.verb_at(position)
    if verb is not None and not verb.participle_only:
        return verb, verb.subject() or _source_after(doc, verb.end, limit)
    match = _SELON.match(text[position:limit])
    if match:
        return None, _source_after(doc, position + match.end(), limit)
    return None, None


def _quotes_in_span(doc: _Text, span: tuple[int, int], group_end: int) -> list[_Found]:
    """The quotes of one quoted span, attributed if the text says by whom."""
    text = doc.text
    start, end = span
    sentence_start, sentence_end = doc.sentence_of(start)
    limit = max(sentence_end, group_end)
    pieces = _pieces(doc, start, end)
    after_verb, after_source = _attribution_after(doc, group_end, limit)
    # the clause before the quote: from the last quote or sentence start
    floor = max([sentence_start, *(e for s, e in doc.quoted if e <= start and e > sentence_start)])
    clause = text[floor:start]
    before_verb, before_source, colon = _attribution_before(doc, floor, start)
    found = []
    inserted = next(((v, s) for _, _, v, s in pieces if v is not None), (None, None))
    kind = None  # the pieces of one quotation are of one kind, the first's
    for piece_start, piece_end, verb, source in pieces:
        words = len(_WORDS_COUNT.findall(text[piece_start:piece_end]))
        if words == 0:
            continue
        chosen_verb, chosen = (verb, source) if verb is not None else inserted
        if chosen_verb is None and chosen is None:
            chosen_verb, chosen = (after_verb, after_source)
        if chosen_verb is None and chosen is None:
            chosen_verb, chosen = before_verb, before_source
        if _the_writer(doc, chosen_verb, chosen):
            chosen_verb, chosen = None, None
        attributed = chosen is not None or chosen_verb is not None
        naming = _names_a_thing(text, start, clause, words)
        if naming:
            continue
        in_brackets = clause.count("(") > clause.count(")")
        if not attributed and (words < 7 or in_brackets):
            continue  # a term, a title, a scare quote: not a quote
        if words < 7 and chosen is None:
            continue  # a verb nobody said: `les revues classées « top »`
        if (
            words < 7
            and chosen_verb is None
            and chosen is before_source
            and not _opens_or_introduces(doc, floor, chosen, start)
        ):
            continue  # `qu'il y a, pour eux, à être nominés : toute revue « nouvelle »`
        kind = kind or _kind(text, piece_start, words, colon)
        found.append(
            _Found(
                piece_start,
                piece_end,
                kind,
                verb=chosen_verb,
                source=chosen,
                continues=not attributed and not colon and not _is_heading(text, span),
                position=(chosen.start if chosen else piece_start),
            )
        )
    return found


def _names_a_thing(text: str, start: int, clause: str, words: int) -> bool:
    """Whether the quote names something rather than quotes someone: `le mot « infox »`,
    `un « mais »`."""
    if _MENTION_WORDS.search(clause.rstrip(' «"')):
        return True
    before = [w.lower() for w in _TOKEN.findall(text[max(0, start - 12) : start])]
    if not before:
        return False
    # a definite article right before the guillemets makes a few quoted words a noun
    # phrase of the journalist's own sentence, something named (`pour décerner la
    # « qualification aux fonctions de… »`), not words quoted from a speaker
    return (words == 1 and before[-1] in _NAMING_DETERMINERS) or before[-1] in _DEFINITE


def _is_heading(text: str, span: tuple[int, int]) -> bool:
    """A quoted paragraph without final punctuation: a pull quote, not speech."""
    start, end = span
    paragraph_start = text.rfind("\n\n", 0, start)
    paragraph_start = 0 if paragraph_start < 0 else paragraph_start + 2
    paragraph_end = text.find("\n\n", end)
    paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
    inner = text[start:end].strip('«»" ')
    alone = not text[paragraph_start:start].strip() and not text[end:paragraph_end].strip(" .")
    return alone and not inner.endswith((".", "!", "?", "…"))


def _attribution_before(
    doc: _Text, floor: int, start: int
) -> tuple[_Verb | None, _Source | None, bool]:
    """The attribution in the clause before a quote: a verb and its subject (`Il
    poursuit : «`, `Elle affirme «`), `pour X,` / `selon X :`, or a person named
    before a colon. Also says whether a colon introduces the quote."""
    text = doc.text
    clause = text[floor:start]
    colon = clause.rstrip(' «"').endswith(":")
    verbs = [v for v in doc.verbs_between(floor, start) if v.end <= start]
    last = verbs[-1] if verbs else None
    ends_with_verb = last is not None and not re.search(
        r"\w", _LINK_WORDS.sub("", text[last.end : start])
    )
    if last is not None and ends_with_verb:
        return last, _verb_subject(doc, floor, last), colon
    prepositional = _preposition_source(doc, floor, start)
    if prepositional is not None:
        return None, prepositional, colon
    if last is not None:
        return last, _verb_subject(doc, floor, last), colon
    if colon:
        for mention in doc.mentions_in(floor, start):
            preceding = _TOKEN.findall(text[floor : mention.start])
            if _is_person_like(doc, mention) and (
                not preceding or preceding[-1].lower() not in PREPOSITIONS | {"du", "des"}
            ):
                return None, _Source(mention.start, mention.end, "entity", mention.index), colon
        lead = _LEADING_PRONOUN.match(clause)
        if lead:
            return None, _Source(floor + lead.start(1), floor + lead.end(1), "pronoun"), colon
    return None, None, colon


def _opens_or_introduces(doc: _Text, floor: int, source: _Source, start: int) -> bool:
    """Whether `pour X,` opens the clause (`Pour elle, … « »`) or comes right before the
    quote (`…, pour lui, « »`), rather than sitting inside the sentence (`les enjeux qu'il
    y a, pour eux, à être nominés : toute revue « nouvelle »`: for them, not in their
    words: a few quoted words there are a term). `selon X` names a source anywhere."""
    text = doc.text
    if not re.search(r"\b[Pp]our\s+$", text[max(floor, source.start - 6) : source.start]):
        return True
    lead = _TOKEN.findall(text[floor : source.start])
    opens = len(lead) <= 2 and (len(lead) < 2 or lead[0].lower() in ("mais", "et", "or"))
    return opens or not re.sub(r"[\s,:«\"]", "", text[source.end : start])


def _verb_subject(doc: _Text, floor: int, verb: _Verb) -> _Source | None:
    """Who a verb's subject is: its inverted pronoun, the agent of a participle
    (`qualifié de « … » par X`), a postposed speaker (`, a assuré X, «`), or the
    subject before it."""
    text = doc.text
    if verb.pronoun is not None:
        return verb.subject()
    if verb.participle_only:
        sentence_end = doc.sentence_of(verb.start)[1]
        agent = _AGENT.search(text, verb.end, sentence_end)
        return _source_after(doc, agent.end(), sentence_end) if agent else None
    if _AFTER_QUOTE.search(text[floor : verb.start]) or not text[floor : verb.start].strip(" ,"):
        return _source_after(doc, verb.end, doc.sentence_of(verb.start)[1])
    return _source_before(doc, floor, verb.start)


# -- indirect quotes ------------------------------------------------------------------


def _indirect(doc: _Text) -> list[_Found]:
    """Reported speech outside the quotes."""
    text = doc.text
    found: list[_Found] = []
    inside = doc.inside_quote
    for verb in doc.verbs:
        if inside(verb.start) or verb.participle_only:
            continue
        sentence_start, sentence_end = doc.sentence_of(verb.start)
        before = text[sentence_start : verb.start]
        body_end = _content_end(text, sentence_start, sentence_end)
        que = _QUE.match(text, verb.end)
        if que and _relative(text, que.end()):
            que = None  # `l'influence qu'a pu obtenir X`: a relative clause, not what was said
        if que and _NE_BEFORE.search(before) and not _NEGATION.search(text, verb.end, que.end()):
            continue
        if que and verb.lemma not in ("demander",):
            content = que.end()
            while content < body_end and text[content] == " ":
                content += 1
            end = _clause_end(doc, content, body_end)
            source = _preposition_source(doc, verb.end, que.end())
            if source is None:
                source = _verb_subject(doc, sentence_start, verb)
            if end > content and source is not None and not _the_writer(doc, verb, source):
                found.append(_Found(content, end, "indirect", verb, source, position=verb.start))
            continue
        if verb.lemma in _OPINION and verb.pronoun is None:
            continue
        if _ENDS_WITH_COMMA.search(before) and not _AFTER_QUOTE.search(before):
            if _COMME.search(before):
                continue  # `, comme le rappelle X` is read below
            source = verb.subject() or _source_after(doc, verb.end, sentence_end)
            content_end = len(before.rstrip(" ,")) + sentence_start
            if (
                source is None
                or not _can_speak(doc, source)
                or _apposition_before(doc, sentence_start, content_end)
            ):
                continue
            start = _content_start(text, sentence_start, content_end)
            if len(_WORDS_COUNT.findall(text[start:content_end])) < 3:
                continue
            found.append(_Found(start, content_end, "indirect", verb, source, position=verb.start))
    found += _prepositional_indirect(doc)
    found += _reported_before(doc)
    return found


def _the_writer(doc: _Text, verb: _Verb | None, source: _Source | None) -> bool:
    """`on note que`, `nous constatons`: the writer's own observation, not a quote."""
    if verb is None or source is None or source.kind != "pronoun":
        return False
    word = doc.text[source.start : source.end].lower()
    return word in ("on", "nous") and verb.lemma in _OBSERVING


def _can_speak(doc: _Text, source: _Source) -> bool:
    """Whether a phrase after a verb can be its speaker (`, a averti Jens Stoltenberg`)
    rather than its object (`a annoncé la fermeture des commerces`)."""
    if source.kind in ("pronoun", "entity"):
        return True
    head = _head_noun(doc.text[source.start : source.end])
    return head in HUMAN_NOUNS | _ORG_NOUNS | _DOCUMENT_NOUNS | _GROUP_NOUNS | MEDIA_NOUNS


def _apposition_before(doc: _Text, start: int, comma: int) -> bool:
    """`Le maire de Paris, Anne Hidalgo, a annoncé…`: the comma before the verb closes a
    name (or a participle phrase: `présidée par X,`) in apposition to its subject, not
    reported words."""
    offset, part = _clause_parts(doc.text[start:comma])[-1]
    part_start = start + offset
    words = [w for w in _TOKEN.finditer(part) if w.group().lower() not in ("et", "ou", "de", "d")]
    if not words:
        return False
    covered = [
        w for w in words if any(m.start <= part_start + w.start() < m.end for m in doc.mentions)
    ]
    participle = words[0].group().lower().endswith(("ée", "ées", "és", "é", "ie", "is"))
    return len(covered) == len(words) or (participle and len(words) <= 5)


def _relative(text: str, position: int) -> bool:
    """Whether the `que` before `position` opens a relative clause (a verb right after
    it), not reported content (a subject after it)."""
    word = _TOKEN.match(text, position + (1 if text[position : position + 1] == " " else 0))
    return word is not None and (word.group().lower() in AUXILIARIES or word.group() in FINITE)


def _content_start(text: str, start: int, end: int) -> int:
    """Where reported content starts in a sentence: after a leading `Ainsi,`."""
    lead = re.match(
        r"(?:Ainsi|Mais|Et|Or|De plus|En outre|Enfin|Cependant|Pourtant),\s*", text[start:end]
    )
    return start + lead.end() if lead else start


def _content_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " .!?…\n":
        end -= 1
    return end


def _clause_end(doc: _Text, start: int, end: int) -> int:
    """The end of reported content: the sentence, without a colon that opens a quote or
    an attribution after it (`…, a déclaré son porte-parole`)."""
    text = doc.text
    colon = _COLON_QUOTE.search(text, start, end)
    if colon:
        end = colon.start()
    for verb in doc.verbs_between(start + 1, end):
        if _ENDS_WITH_COMMA.search(text[start : verb.start]):
            tail = text[verb.end : end]
            if not _QUE_WORD.search(tail):
                end = len(text[start : verb.start].rstrip(" ,")) + start
                break
    return end


def _prepositional_indirect(doc: _Text) -> list[_Found]:
    """`Selon X, P`, `Pour X, P`, `À ses yeux, P`, `P, selon X`, `P selon X`."""
    text = doc.text
    inside = doc.inside_quote
    found = []
    for sentence_start, sentence_end in doc.sentences:
        body_end = _content_end(text, sentence_start, sentence_end)
        sentence = text[sentence_start:body_end]
        lead = re.match(
            r"(?:(?:Mais|Et|Or)\s+)?(?:Selon|D'après|Pour|Aux yeux d[eu']\s*"
            r"|[AÀ] (?:ses|son|leur|leurs) (?:yeux|avis))\s*",
            sentence,
        )
        if lead:
            comma = _top_level_comma(sentence, lead.end())
            if comma is None:
                continue
            source = _preposition_source(doc, sentence_start, sentence_start + comma)
            content = sentence_start + comma + 1
            while content < body_end and text[content] == " ":
                content += 1
            if source is None or text[content : content + 1] in '«"':
                continue
            if _verb_infinitive_after(text, sentence_start + lead.end()):
                continue
            end = _clause_end(doc, content, body_end)
            found.append(_Found(content, end, "indirect", None, source, position=content))
            continue
        for match in _SELON_INSIDE.finditer(sentence):
            at = sentence_start + match.start()
            if inside(at):
                continue
            source = _speaker_after_preposition(doc, at, sentence_start + match.end(), body_end)
            if source is None:
                continue
            tail = text[source.end : body_end].strip(" ,")
            head = text[sentence_start:at].rstrip(" ,")
            if not head or head[-1] in '»"' or not _WORDS_COUNT.search(head):
                continue  # `« … » selon X`: the quote's attribution
            if tail.startswith(":") or not tail:
                start = _content_start(text, sentence_start, at)
                found.append(_Found(start, at, "indirect", None, source, position=at))
            else:
                found.append(
                    _Found(sentence_start, body_end, "indirect", None, source, position=at)
                )
            break
    return found


def _verb_infinitive_after(text: str, position: int) -> bool:
    """`Pour prendre une image,`: a purpose, not a speaker."""
    word = _TOKEN.match(text, position)
    return (
        bool(word)
        and word.group().lower().endswith(("er", "ir", "re"))
        and not word.group()[:1].isupper()
        and word.group().lower() not in DETERMINERS | _POSSESSIVES | {"les", "lui", "eux"}
    )


def _top_level_comma(sentence: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(sentence)):
        if sentence[i] == "(":
            depth += 1
        elif sentence[i] == ")":
            depth -= 1
        elif sentence[i] == "," and depth <= 0:
            return i
        elif sentence[i] in '«":':
            return None
    return None


# a verb, up to a few words (`a déclaré mardi à la presse`, `confirme pour X`), then `que`;
# not the `que` of a conjunction (`tandis que`, `alors que`)
_QUE = re.compile(
    r"\s*(?:[^.,;:!?«»\"]{0,60}?\s)??(?<!tandis )(?<!alors )(?<!parce )(?<!bien )(?<!ainsi )"
    r"(?<!dès )(?<!avant )(?<!après )(?<!pour )(?<!sans )(?<!afin )(?<!même )"
    r"(?:que(?=\s)|qu'(?=\w))"  # the word `que`, not the start of `quelques`
)
# `n'en mentionnent que deux`: `ne … que` is `only`, not what was said, unless a
# negation of its own sits between (`ne dit pas que`)
_NE_BEFORE = re.compile(r"\b(?:ne|n')\s*(?:(?:en|y|le|la|les|lui|leur|l')\s*)?$", re.I)
_NEGATION = re.compile(r"\b(?:pas|plus|jamais|guère|point|rien|personne)\b")
# verbs of observation the writer uses of the article's own findings (`on note que`)
_OBSERVING = frozenset({"noter", "constater", "observer", "relever"})
_REPORTED = re.compile(r"\b[Cc]'est (?:du moins |bien |en tout cas )?ce qu(?:e\s+|')")
_AS_SAID = re.compile(r",\s*comme\s+(?:(?:nous|me|vous|l'|le|la|les|l'a|l'ont|lui)\s*)*$")


def _reported_before(doc: _Text) -> list[_Found]:
    """`C'est ce qu'a annoncé X` (the sentence before is what X said) and `P, comme le
    rappelle X`."""
    text = doc.text
    found = []
    sentences = doc.sentences
    for verb in doc.verbs:
        sentence_start, sentence_end = doc.sentence_of(verb.start)
        before = text[sentence_start : verb.start]
        reported = _REPORTED.search(before)
        as_said = None if reported else _AS_SAID.search(before)
        if not (reported and reported.end() == len(before)) and as_said is None:
            continue
        source = verb.subject() or _source_after(doc, verb.end, sentence_end)
        if source is None:
            continue
        if as_said is None:
            index = sentences.index((sentence_start, sentence_end))
            if index == 0:
                continue
            previous_start, previous_end = sentences[index - 1]
            end = _content_end(text, previous_start, previous_end)
            found.append(_Found(previous_start, end, "indirect", verb, source, position=verb.start))
        else:
            end = sentence_start + as_said.start()
            if len(_WORDS_COUNT.findall(text[sentence_start:end])) >= 3:
                found.append(
                    _Found(sentence_start, end, "indirect", verb, source, position=verb.start)
                )
    return found


# -- speakers ---------------------------------------------------------------------------


@dataclass
class _Resolver:
    """Resolves speakers in text order, remembering who spoke last."""

    doc: _Text
    last: tuple[int, Identity, int] | None = None  # position, identity, entity index

    def compatible(self, identity: Identity, gender: str | None) -> bool:
        return gender is None or identity.gender in (None, gender)

    def person_before(
        self, position: int, gender: str | None, *, roles: set[str] | None = None
    ) -> tuple[Identity, int] | None:
        """The person named last before `position` (outside quotes), of that gender."""
        doc = self.doc
        inside = doc.inside_quote
        candidates = [
            m
            for m in doc.mentions
            if m.end <= position and not inside(m.start) and _is_person_like(doc, m)
        ]
        for mention in reversed(candidates):
            identity = doc.people.identity_of[mention.index]
            if not self.compatible(identity, gender):
                continue
            if roles is not None and not roles <= identity.roles:
                continue
            return identity, mention.index
        return None

    def pronoun(self, source: _Source, position: int) -> tuple[Identity, int] | None:
        word = self.doc.text[source.start : source.end].lower()
        if word in _PLURAL_PRONOUNS:
            return None
        if word in _POSSESSIVES:
            return (self.last[1], self.last[2]) if self.last else None
        gender = "f" if word == "elle" else "m" if word in ("il", "lui") else None
        # who spoke in this sentence or the one before is who `il` most likely is
        if (
            self.last is not None
            and self.last[0] >= self.doc.previous_sentence_start(position)
            and self.compatible(self.last[1], gender)
            and self.last[1].is_person
        ):
            return self.last[1], self.last[2]
        found = self.person_before(source.start, gender)
        if found is None and self.last is not None and self.compatible(self.last[1], gender):
            return self.last[1], self.last[2]
        return found

    def role(self, source: _Source) -> tuple[Identity, int] | None:
        doc = self.doc
        phrase = doc.text[source.start : source.end]
        words = [w.lower() for w in _TOKEN.findall(phrase)]
        if not words:
            return None
        determiner = words[0]
        gender = (
            "f"
            if determiner in FEMININE_DETERMINERS
            else "m"
            if determiner in MASCULINE_DETERMINERS
            else None
        )
        head = _head_noun(phrase)
        if determiner in _POSSESSIVES or determiner == "les":
            return None
        if head in _ORG_NOUNS:
            inside = doc.inside_quote
            for mention in reversed([m for m in doc.mentions if m.end <= source.start]):
                if mention.label == "ORG" and not inside(mention.start):
                    return doc.people.identity_of[mention.index], mention.index
            return None
        if head in _DOCUMENT_NOUNS or head not in HUMAN_NOUNS:
            return None
        content = {w for w in words[1:] if w not in PREPOSITIONS and w not in DETERMINERS}
        content -= {"du", "des", "au", "aux", "les"}
        matched = self.person_before(source.start, gender, roles=content)
        if matched is None:
            matched = self._role_after(source.start, gender, content)
        if matched is not None:
            return matched
        has_complement = any(w in ("de", "du", "des", "d") for w in words[1:])
        if has_complement:
            return None  # `le conseiller du président`: someone the article does not name
        return self.person_before(source.start, gender)

    def _role_after(
        self, position: int, gender: str | None, roles: set[str]
    ) -> tuple[Identity, int] | None:
        for mention in self.doc.mentions:
            if mention.start <= position:
                continue
            identity = self.doc.people.identity_of[mention.index]
            if identity.is_person and self.compatible(identity, gender) and roles <= identity.roles:
                return identity, mention.index
        return None

    def resolve(self, found: _Found) -> Quote:
        doc = self.doc
        source = found.source
        resolved: tuple[Identity, int] | None = None
        if source is not None:
            if source.kind == "entity":
                resolved = doc.people.identity_of[source.entity], source.entity
            elif source.kind == "pronoun":
                resolved = self.pronoun(source, found.position)
                word = doc.text[source.start : source.end].lower()
                if resolved is not None and word in ("il", "elle"):
                    resolved[0].cues.append(_pronoun_cue(doc.text, source.start, word))
                if resolved is not None and resolved[0].gender is None and word in ("il", "elle"):
                    resolved[0].gender = "f" if word == "elle" else "m"  # read from the pronoun
            elif source.kind == "role":
                resolved = self.role(source)
        elif found.continues and self.last is not None:
            position, identity, index = self.last
            paragraphs = doc.paragraph_of(found.start) - doc.paragraph_of(position)
            others = [
                m
                for m in doc.mentions
                if position < m.start < found.start
                and _is_person_like(doc, m)
                and doc.people.identity_of[m.index] is not identity
                and not doc.inside_quote(m.start)
            ]
            if paragraphs <= 2 and not others:
                resolved = identity, index
        if resolved is not None and source is not None:
            self.last = (found.position, resolved[0], resolved[1])
        verb = found.verb
        return Quote(
            start=found.start,
            end=found.end,
            kind=found.kind,
            verb=doc.text[verb.start : verb.end] if verb is not None else None,
            speaker=doc.text[source.start : source.end] if source is not None else None,
            speaker_start=source.start if source is not None else None,
            speaker_end=source.end if source is not None else None,
            entity=resolved[1] if resolved else None,
            canonical=resolved[0].canonical if resolved else None,
            speaker_kind=_speaker_kind(doc, source, resolved[0] if resolved else None),
        )


def _speaker_kind(doc: _Text, source: _Source | None, identity: Identity | None) -> str:
    """What the speaker is: a person, an organisation (a group of people too), a
    publication or broadcaster (`media`: `Mediapart révèle que…`), or `unknown` (no
    speaker, `on`, a document of nobody named)."""
    phrase = doc.text[source.start : source.end] if source is not None else ""
    head = _head_noun(phrase)
    nouns = set(_TOKEN.findall(_PHRASE_STOP.split(phrase.lower())[0]))
    if identity is not None and _is_medium(identity.canonical):
        return "media"
    if identity is not None and (
        identity.is_person or _misc_name(identity, identity.label, identity.canonical)
    ):
        return "person"
    if head in HUMAN_NOUNS:
        return "person"
    if head in MEDIA_NOUNS:
        return "media"
    if identity is not None or head in _ORG_NOUNS or nouns & _GROUP_NOUNS:
        return "organisation"
    if source is not None and source.kind == "pronoun" and phrase.lower() not in ("on", "nous"):
        return "person"
    return "unknown"


def _is_medium(name: str) -> bool:
    """Whether a name is a publication or broadcaster's (`Le Monde`, `l'AFP`)."""
    key = re.sub(r"^(?:l'|le |la |les )", "", name.strip().lower())
    return key in MEDIA_NAMES


# -- everything ---------------------------------------------------------------------------


def find_quotes(text: str, mentions: list[Mention], people: People) -> list[Quote]:
    """Every quote of the article, in text order, with its speaker when the text says."""
    quoted = quoted_spans(text)
    doc = _Text(
        text,
        mentions,
        people,
        quoted=quoted,
        sentences=_sentences(text, quoted),
        paragraphs=[0] + [m.end() for m in _PARAGRAPH.finditer(text)],
        verbs=_reporting_verbs(text),
    )
    found: list[_Found] = []
    at = 0
    while at < len(quoted):
        # quotes in a row (`« A », « B » selon X`) share the attribution after the last
        group_end = at
        while group_end + 1 < len(quoted) and re.fullmatch(
            r"\s*(?:,|et|ou)?\s*", text[quoted[group_end][1] : quoted[group_end + 1][0]]
        ):
            group_end += 1
        for index in range(at, group_end + 1):
            found += _quotes_in_span(doc, quoted[index], quoted[group_end][1])
        at = group_end + 1
    direct = sorted(found, key=lambda f: f.start)
    starts = [f.start for f in direct]
    for candidate in _indirect(doc):
        if not _WORDS_COUNT.search(text, candidate.start, max(candidate.start, candidate.end)):
            continue  # nothing reported: the rules matched on punctuation alone
        if _overlaps_quotes(candidate, direct, starts) or _overlaps(candidate, found):
            continue
        found.append(candidate)
    resolver = _Resolver(doc)
    quotes = [resolver.resolve(f) for f in sorted(found, key=lambda f: (f.position, f.start))]
    return _with_quote_ids(text, sorted(quotes, key=lambda q: (q.start, q.end)))


_INCISE_GAP = re.compile(r"[\s«»\"]*[,–—-]")


def _with_quote_ids(text: str, quotes: list[Quote]) -> list[Quote]:
    """The quotes (in text order) with their `quote_id`: a segment that goes on after
    the attribution cutting its quote (`« A », a dit X, « B »`, `« A, dit-elle. B »`)
    has the id of the quote's first segment, so a quote is counted once."""
    ids: list[int] = []
    for index, quote in enumerate(quotes):
        before = quotes[index - 1] if index else None
        continues = before is not None and _continues(text, before, quote)
        ids.append(ids[-1] if continues else index)
    return [replace(q, quote_id=i) for q, i in zip(quotes, ids, strict=True)]


def _continues(text: str, before: Quote, segment: Quote) -> bool:
    """Whether `segment` is the rest of `before`, cut only by before's attribution: no
    attribution but that one, the same speaker, the attribution an incise between them
    in one paragraph."""
    if "indirect" in (before.kind, segment.kind):
        return False
    if segment.speaker is not None and segment.speaker_start != before.speaker_start:
        return False
    if before.speaker_start is None or not before.end <= before.speaker_start < segment.start:
        return False
    gap = text[before.end : segment.start]
    return (
        before.canonical == segment.canonical
        and "\n\n" not in gap
        and len(gap) <= 160
        and _INCISE_GAP.match(gap) is not None
    )


def _overlaps_quotes(candidate: _Found, quotes: list[_Found], starts: list[int]) -> bool:
    """Whether reported content is mostly quoted words already found (`quotes` in text
    order, `starts` their starts)."""
    length = max(1, candidate.end - candidate.start)
    covered = 0
    for quote in quotes[: bisect_left(starts, candidate.end)]:
        if quote.end > candidate.start:
            covered += min(candidate.end, quote.end) - max(candidate.start, quote.start)
    return covered / length >= 0.6


def _overlaps(candidate: _Found, found: list[_Found]) -> bool:
    """Whether another reading of the same reported content was kept already."""
    for other in found:
        if other.kind != "indirect":
            continue
        overlap = min(candidate.end, other.end) - max(candidate.start, other.start)
        if overlap > 0.5 * min(candidate.end - candidate.start, other.end - other.start):
            if (
                candidate.source
                and candidate.source.kind == "entity"
                and (other.source is None or other.source.kind != "entity")
            ):
                other.start, other.end, other.source = (
                    candidate.start,
                    candidate.end,
                    candidate.source,
                )
                other.verb = candidate.verb
            return True
    return False
