"""The words the quote rules look for: reporting verbs, nouns of people, groups,
documents and media, and the small words around them (the long lists in words.toml)."""

from __future__ import annotations

import re

FIRST_GROUP = """
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
PRESENT_STEMS = {
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


IRREGULAR = {
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
OPINION = frozenset({"penser", "croire", "juger", "considérer"})


# reporting verbs whose past participle also qualifies a quoted phrase (`qualifié de « … »`)
QUALIFYING = frozenset({"qualifier", "classer", "décrire", "juger", "considérer", "dénoncer"})


SUBJECTS = ("il", "elle", "on", "ils", "elles")


# words before `le`/`la`/`les` when these are object pronouns (`comme le rappelle X`)
BEFORE_OBJECT_PRONOUN = frozenset(
    "nous vous il elle on ils elles je ne n comme qui que qu me te se".split()
)


AUXILIARIES = frozenset(
    "a ont avait avaient aurait auraient ait aient aura auront eut est sont était étaient".split()
)


ADVERBS = frozenset(
    """
    aussi encore déjà ainsi également bien toutefois pourtant notamment enfin alors
    récemment ensuite cependant souvent clairement publiquement fermement aussitôt
    hier lundi mardi mercredi jeudi vendredi samedi dimanche matin soir immédiatement
    lui-même elle-même longtemps même jamais pas ne n plus tout
    """.split()
)


TOKEN = re.compile(r"\w+(?:-\w+)*")


INDEFINITE = frozenset(
    "un une des d plusieurs certains certaines quelques nombre autres aucun aucune".split()
)


POSSESSIVES = frozenset({"son", "sa", "ses", "leur", "leurs"})


PLURAL_PRONOUNS = frozenset({"ils", "elles", "eux", "on", "nous", "vous", "je", "j", "leur"})


ORG_NOUNS = frozenset(
    """
    agence office ministère gouvernement entreprise société groupe firme organisation
    institut commission ville municipalité mairie préfecture police syndicat parti
    association fédération conseil cour tribunal banque autorité ong direction
    administration régie compagnie fondation observatoire collectif
    """.split()
)


DOCUMENT_NOUNS = frozenset(
    """
    rapport communiqué étude texte note document lettre déclaration article message
    tweet livre ouvrage enquête sondage chiffres statistiques données bilan avis
    décision jugement arrêt
    """.split()
)


# groups of people that speak as one (`l'opposition écologiste`)
GROUP_NOUNS = frozenset(
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


# determiners that make a quoted word a name or a term (`un « mais »`)
DEFINITE = frozenset({"le", "la", "les", "l"})


NAMING_DETERMINERS = frozenset(
    "un une le la les l ce cette ces son sa ses leur leurs notre nos votre vos".split()
)


WORD = re.compile(r"\w+")


ORDINALS = frozenset({"premier", "première", "dernier", "dernière"})


# verbs of observation the writer uses of the article's own findings (`on note que`)
OBSERVING = frozenset({"noter", "constater", "observer", "relever"})
