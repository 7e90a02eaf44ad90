"""Quotes and their speakers, read by the annotate stage with the real French model."""

from __future__ import annotations

import pytest

from schemas import QUOTES
from tasks.nlp.quotes import find_quotes
from tasks.nlp.quotes.spans import quoted_spans
from tasks.stages.annotate import annotate_articles

from .test_annotate import articles


def quotes_of(nlp, text: str) -> tuple[str, list[dict], list[dict]]:
    """The article's normalized text, its quotes and its entities, as annotate makes them."""
    clean = articles([text])
    result = annotate_articles(clean, nlp)
    assert result.quotes.schema.equals(QUOTES.schema)
    return clean["text"][0].as_py(), result.quotes.to_pylist(), result.entities.to_pylist()


def said(nlp, text: str) -> list[tuple[str, str, str | None]]:
    """(kind, quoted words, speaker's canonical name) of every quote, in order; and the
    offsets and the speaker's entity checked against the text."""
    normalized, quotes, entities = quotes_of(nlp, text)
    by_index = {e["entity_index"]: e for e in entities}
    for quote in quotes:
        assert normalized[quote["start_char"] : quote["end_char"]] == quote["text"]
        if quote["speaker"] is not None:
            cut = normalized[quote["speaker_start"] : quote["speaker_end"]]
            assert cut == quote["speaker"]
        if quote["speaker_entity_index"] is not None:
            entity = by_index[quote["speaker_entity_index"]]
            assert entity["canonical"] == quote["speaker_canonical"]
        else:
            assert quote["speaker_canonical"] is None
    return [(q["kind"], q["text"], q["speaker_canonical"]) for q in quotes]


STOLTENBERG = (
    "Le secrétaire général de l'OTAN, Jens Stoltenberg, est arrivé mardi à Bagdad pour "
    "rencontrer les autorités irakiennes."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the speaker after the quote, in « » with no-break spaces, or in “ ”
        (
            STOLTENBERG + "\n\n«\u00a0Nous allons en parler\u00a0», a assuré Jens Stoltenberg.",
            [("direct", "Nous allons en parler", "Jens Stoltenberg")],
        ),
        (
            STOLTENBERG + "\n\n“Nous resterons en Irak”, a déclaré M. Stoltenberg.",
            [("direct", "Nous resterons en Irak", "Jens Stoltenberg")],
        ),
        # before it, with a colon
        (
            STOLTENBERG + " Jens Stoltenberg a déclaré : « La mission reprendra bientôt. »",
            [("direct", "La mission reprendra bientôt.", "Jens Stoltenberg")],
        ),
        # inserted into it: two runs of quoted words, one speaker
        (
            STOLTENBERG + " « Nous sommes prêts, a-t-il dit, à former les soldats irakiens. »",
            [
                ("direct", "Nous sommes prêts", "Jens Stoltenberg"),
                ("direct", "à former les soldats irakiens.", "Jens Stoltenberg"),
            ],
        ),
    ],
)
def test_direct_quotes_and_where_the_speaker_is(nlp, text, expected) -> None:
    assert said(nlp, text) == expected


def test_a_quote_over_several_paragraphs_is_one_quote(nlp) -> None:
    text = (
        "La ministre de la Santé, Agnès Buzyn, a présenté son plan jeudi à Paris.\n\n"
        "« Nous ouvrirons trois hôpitaux cette année.\n\n"
        "« Et nous recruterons mille infirmiers dans les services d'urgence », a-t-elle ajouté."
    )
    [(kind, words, speaker)] = said(nlp, text)
    assert (kind, speaker) == ("direct", "Agnès Buzyn")
    assert words.startswith("Nous ouvrirons") and words.endswith("services d'urgence")
    assert "\n\n« Et nous recruterons" in words


def test_pronouns_agree_in_gender_with_the_person(nlp) -> None:
    text = (
        "L'ambassadrice Kay Bailey Hutchison et le ministre Mark Esper ont visité la base "
        "mardi.\n\n« Nous partirons quand le travail sera fini », a-t-il expliqué.\n\n"
        "« Les alliés doivent faire plus », a-t-elle ajouté."
    )
    assert [(q[1], q[2]) for q in said(nlp, text)] == [
        ("Nous partirons quand le travail sera fini", "Mark Esper"),
        ("Les alliés doivent faire plus", "Kay Bailey Hutchison"),
    ]


def test_a_pronoun_the_text_gives_a_gender_to_is_kept_apart(nlp) -> None:
    # no title says who is who: `elle` tells the second speaker's gender, and `il` is the other
    text = (
        "Jean Dupont et Marie Martin ont visité l'usine de Lyon mardi.\n\n« C'est "
        "formidable », a-t-elle dit. « Je reviendrai l'an prochain », a-t-il répondu."
    )
    speakers = [q[2] for q in said(nlp, text)]
    assert speakers == ["Marie Martin", "Jean Dupont"]


def test_a_role_is_the_person_the_article_names_with_it(nlp) -> None:
    text = (
        STOLTENBERG + " Le ministre irakien Fouad Hussein l'a reçu à Bagdad.\n\n"
        "Le secrétaire général de l'OTAN a assuré que la mission reprendrait en mars."
    )
    assert said(nlp, text) == [("indirect", "la mission reprendrait en mars", "Jens Stoltenberg")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Le président Emmanuel Macron a affirmé que la croissance repartirait en 2021.",
            [("indirect", "la croissance repartirait en 2021", "Emmanuel Macron")],
        ),
        (
            "Selon Emmanuel Macron, la croissance repartira en 2021 dans toute la zone euro.",
            [
                (
                    "indirect",
                    "la croissance repartira en 2021 dans toute la zone euro",
                    "Emmanuel Macron",
                )
            ],
        ),
        (
            "La croissance repartira l'an prochain dans toute la zone euro, a averti Emmanuel "
            "Macron.",
            [
                (
                    "indirect",
                    "La croissance repartira l'an prochain dans toute la zone euro",
                    "Emmanuel Macron",
                )
            ],
        ),
        (
            # the content starts at the first `que`, whatever follows
            "Jens Stoltenberg estime que la mission est utile et que les alliés la soutiennent.",
            [
                (
                    "indirect",
                    "la mission est utile et que les alliés la soutiennent",
                    "Jens Stoltenberg",
                )
            ],
        ),
        (
            "Le président Emmanuel Macron a critiqué une « décision absurde » de la Commission.",
            [("partial", "décision absurde", "Emmanuel Macron")],
        ),
    ],
)
def test_indirect_and_partial_quotes(nlp, text, expected) -> None:
    assert said(nlp, text) == expected


def test_titles_and_scare_quotes_are_not_quotes(nlp) -> None:
    text = (
        "Le mot « infox » est entré dans le dictionnaire. Le film « La Haine » ressort en "
        "salles, et les fameux « éléments de langage » circulent."
    )
    assert said(nlp, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # `Pour …,` of a time or a circumstance, not of a person
        (
            "Pour la première fois du quinquennat, Emmanuel Macron est pris de court par sa "
            "majorité. Pour le moment, le choix qui a prévalu est le suivant.",
            [],
        ),
        # `selon` of a criterion; a study is a source
        (
            "Les résultats sont classés selon la source des données, et varient selon qu'il "
            "s'agit des villes ou des campagnes. Selon leur étude, la pollution a baissé.",
            [("indirect", "la pollution a baissé", None)],
        ),
        # names in guillemets: charges, devices, ranks; scare quotes on a word or two
        (
            "L'ancien président est poursuivi pour « soustraction de documents classifiés ». "
            "Le dispositif « Bienvenue en France » est suspendu. Les revues classées « top » "
            "ou en « 1* » dominent ; toute revue « nouvelle » peine, pour eux, à survivre.",
            [],
        ),
        # a definite article before the guillemets: a thing named in the journalist's
        # sentence, however long, even after a reporting verb
        (
            "La sénatrice Claire Morel a évoqué mardi ces classements pour obtenir la « prime "
            "d'encadrement doctoral et de recherche des enseignants » dès cette année.",
            [],
        ),
        # `ne … que` is `only`; `on note que` is the writer's own finding; `quelques`
        (
            "Le ministre Gérald Darmanin n'en retient que deux. On note que les chiffres "
            "baissent. Par ailleurs, on note quelques « participations » croisées.",
            [],
        ),
        # verbs that quote what they qualify; `s'est dit` says, it does not name
        (
            "Le premier ministre François Legault a salué un budget « responsable ». Le "
            "ministre François Bonnardel s'est dit « déçu mais pas surpris ».",
            [
                ("partial", "responsable", "François Legault"),
                ("partial", "déçu mais pas surpris", "François Bonnardel"),
            ],
        ),
    ],
)
def test_what_is_not_a_quote_or_not_a_speaker(nlp, text, expected) -> None:
    assert said(nlp, text) == expected


def test_a_nationality_is_not_part_of_the_name(nlp) -> None:
    text = (
        "Le Slovène Tadej Pogačar a remporté dimanche le Tour de France. « Je n'arrive pas à y "
        "croire », a-t-il confié sur le podium."
    )
    assert said(nlp, text) == [("direct", "Je n'arrive pas à y croire", "Tadej Pogačar")]


def test_a_network_named_in_one_word_is_not_who_a_pronoun_is(nlp) -> None:
    # the model leaves `TikTok` unclassed (MISC): one such word that is no first name
    # and no one's role is not a person, so `selon elle` is the researcher named before
    text = (
        "La chercheuse Anne Martin étudie les réseaux sociaux depuis dix ans. L'essor des "
        "comptes sur Instagram ou TikTok traduirait selon elle un « besoin de reconnaissance » "
        "jamais satisfait."
    )
    # one statement: the words quoted inside it belong to it
    assert [(kind, speaker) for kind, _, speaker in said(nlp, text)] == [
        ("indirect", "Anne Martin")
    ]


def test_a_speaker_is_never_invented(nlp) -> None:
    text = (
        "Le président Emmanuel Macron était à Lyon mardi.\n\n"
        "« Nous ne céderons pas », a lancé un manifestant devant la préfecture.\n\n"
        "La réforme sera votée en juin, a-t-on indiqué de source proche du dossier.\n\n"
        "« Les travaux commenceront en septembre pour une durée de deux ans au moins. »"
    )
    found = said(nlp, text)
    assert [kind for kind, _, _ in found] == ["direct", "indirect", "direct"]
    assert [speaker for _, _, speaker in found] == [None, None, None]
    _, quotes, _ = quotes_of(nlp, text)
    assert [q["speaker"] for q in quotes] == ["un manifestant", "on", None]


def test_a_quote_cut_by_its_attribution_is_one_quote(nlp) -> None:
    text = (
        STOLTENBERG + "\n\n« Nous allons en parler », a assuré Jens Stoltenberg, « mais nous "
        "annoncerons les décisions plus tard. »\n\n« Nous resterons en Irak », a déclaré "
        "M. Stoltenberg. « La mission reprendra », a-t-il ajouté."
    )
    _, quotes, _ = quotes_of(nlp, text)
    segments = [(q["text"][:12], q["quote_index"], q["quote_id"]) for q in quotes]
    # the two segments around `a assuré Jens Stoltenberg` are one quote; a quote with an
    # attribution of its own after a full stop is another
    assert segments == [
        ("Nous allons ", 0, 0),
        ("mais nous an", 1, 0),
        ("Nous restero", 2, 2),
        ("La mission r", 3, 3),
    ]


def test_the_kind_of_speaker(nlp) -> None:
    text = (
        "Mediapart révèle que le ministre a reçu des fonds. Le ministre Gérald Darmanin a "
        "démenti : « Ces accusations sont fausses et je porterai plainte. » Selon la "
        "préfecture, le calme est revenu. L'opposition estime que le gouvernement ment. "
        "La réforme sera votée en juin, a-t-on indiqué."
    )
    _, quotes, _ = quotes_of(nlp, text)
    kinds = [(q["text"][:14], q["speaker_kind"]) for q in quotes]
    assert kinds == [
        ("le ministre a ", "media"),
        ("Ces accusation", "person"),
        ("le calme est r", "organisation"),
        ("le gouvernemen", "organisation"),
        ("La réforme ser", "unknown"),
    ]


def test_a_second_segment_after_an_apposition_is_the_same_quote(nlp) -> None:
    text = (
        "« Le microbiote est un organe à part entière », rappelle Francisca Joly-Gomez, "
        "professeure de nutrition, « et il faut le soigner comme tel. »"
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["text"], q["quote_id"]) for q in quotes] == [
        ("Le microbiote est un organe à part entière", 0),
        ("et il faut le soigner comme tel.", 0),
    ]


def test_a_segment_after_an_attribution_without_a_comma_is_the_same_quote(nlp) -> None:
    text = (
        "« Il faut comprendre que la victime est légitime » explique Anthony Pregnolato, "
        "doctorant à Nanterre. « Or elle dépend du groupe social de la personne qui porte "
        "plainte. »"
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["text"][:12], q["quote_id"], q["speaker_canonical"]) for q in quotes] == [
        ("Il faut comp", 0, "Anthony Pregnolato"),
        ("Or elle dépe", 0, "Anthony Pregnolato"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the name a role stands in apposition to
        (
            "Guillaume Goubert, directeur du journal La Croix, commentait lors du sondage : "
            "« Nous sommes face à un public qui a un regard de plus en plus expert. »",
            [("direct", "Nous sommes face à un public", "Guillaume Goubert")],
        ),
        # a quote without attribution after the one person the sentence before is about
        (
            "Mathieu Rigouste s'interroge sur le traitement médiatique depuis Nicolas Sarkozy. "
            "« L'objet violence policière continue d'être traité sous le mode de la bavure. »",
            [("direct", "L'objet violence policière c", "Mathieu Rigouste")],
        ),
        # a verb in the future attributes a quote
        (
            "« Je suis d'accord que ce délai est regrettable », ajoutera Céline Pigalle aux "
            "assises du journalisme.",
            [("direct", "Je suis d'accord que ce déla", "Céline Pigalle")],
        ),
        # a pull quote credited to the name after it
        (
            "« Elle-même est responsable puisqu'elle était à un endroit où il y avait un "
            "risque. »\n\nOlivier Truchot, journaliste, au sujet de la manifestation.",
            [("direct", "Elle-même est responsable pu", "Olivier Truchot")],
        ),
    ],
)
def test_who_speaks_when_the_attribution_is_not_next_to_the_quote(nlp, text, expected) -> None:
    found = [(kind, words[:28], who) for kind, words, who in said(nlp, text)]
    assert found == expected


def test_a_medium_is_not_who_a_pronoun_stands_for(nlp) -> None:
    text = (
        "Dans une interview pour Les Echos le 14 janvier, Marc Dupont a parlé. Il reconnaît "
        "qu'ils ont mis trois semaines à comprendre le problème."
    )
    found = said(nlp, text)
    assert [who for _, _, who in found] == ["Marc Dupont"]


def test_headlines_and_words_inside_a_quote_are_not_quotes_of_their_own(nlp) -> None:
    text = (
        "Le Monde continuait de titrer, Violences policières : « Une même blessure peut être "
        "le résultat d'une violence légitime comme illégitime ». Ivan Du Roy insiste : "
        "\"Il en résulte des représentations qui font que les situations n'étaient pas "
        '« anecdotiques » aux yeux des rédactions."'
    )
    found = said(nlp, text)
    assert [(kind, words[:20], who) for kind, words, who in found] == [
        ("direct", "Il en résulte des re", "Ivan Du Roy"),
    ]


def test_que_after_an_incise_reports_and_after_a_noun_phrase_does_not(nlp) -> None:
    text = (
        "Alain Bauer dira à la télévision, sans peur du ridicule, que la détention explique "
        "le faible nombre de manifestants. Le président Emmanuel Macron a félicité le nouveau "
        "chancelier, qu'il recevra à Paris vendredi."
    )
    found = said(nlp, text)
    assert [(kind, words[:20], who) for kind, words, who in found] == [
        ("indirect", "la détention expliqu", "Alain Bauer"),
    ]


def test_quoted_spans_pair_the_marks() -> None:
    text = 'Il a dit « oui » puis "non".\n\n« A\n\n« B » et « C "D" ».'
    spans = [text[s:e] for s, e in quoted_spans(text)]
    assert spans == ["« oui »", '"non"', "« A\n\n« B »", '« C "D" »']
    # straight marks around guillemets are the outer quote, not a second one over it
    text = '"Il m\'a dit « non » hier", a-t-elle dit. « E » puis "F".'
    spans = [text[s:e] for s, e in quoted_spans(text)]
    assert spans == ['"Il m\'a dit « non » hier"', "« E »", '"F"']


def test_a_quote_in_straight_marks_around_guillemets_keeps_its_speaker(nlp) -> None:
    text = "\"Le ministre m'a dit « c'est fini » hier\", a déclaré Paul Girard."
    assert said(nlp, text) == [
        ("direct", "Le ministre m'a dit « c'est fini » hier", "Paul Girard"),
    ]


def test_quotes_are_stable(nlp) -> None:
    text = STOLTENBERG + " « Nous resterons en Irak », a déclaré Jens Stoltenberg."
    first = annotate_articles(articles([text]), nlp).quotes
    assert first.num_rows == 1
    assert first.equals(annotate_articles(articles([text]), nlp).quotes)


@pytest.mark.parametrize(
    "text",
    [
        "Pour elle, ",
        " selon lui  :  estime  a déclaré  » Selon x Selon !  s'est félicité . Pour elle, ",
        "C'est ce qu'a annoncé x\n\n? « » C'est ce qu'a annoncé comme le rappelle",
        '« « » » " " «\n\n« , a-t-il dit, »',
    ],
)
def test_odd_text_gives_no_empty_or_misplaced_quote(text: str) -> None:
    """An article is untrusted input: whatever the rules match, a quote has words and
    its offsets and its speaker's cut them out of the text (the gate fails otherwise)."""
    from tasks.nlp.people import identities

    for quote in find_quotes(text, [], identities(text, [])):
        assert 0 <= quote.start < quote.end <= len(text)
        assert text[quote.start : quote.end].strip()
        if quote.speaker is not None:
            assert text[quote.speaker_start : quote.speaker_end] == quote.speaker


def test_words_quoted_inside_a_reported_statement_belong_to_it(nlp) -> None:
    # a reader counts one statement, not the statement and the words quoted in it
    text = (
        "Le ministre du Travail, Olivier Dussopt, a affirmé mardi que la réforme était « un "
        "moment historique » pour le pays et qu'elle serait votée avant l'été."
    )
    assert said(nlp, text) == [
        (
            "indirect",
            "la réforme était « un moment historique » pour le pays et qu'elle serait votée "
            "avant l'été",
            "Olivier Dussopt",
        )
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Pour Laurent Berger, le secrétaire général de la CFDT, le gouvernement commet une "
            "faute en refusant de retirer le texte.",
            ("le gouvernement commet une faute en refusant de retirer le texte", "Laurent Berger"),
        ),
        (
            "Selon la ministre de la Santé, Agnès Buzyn, l'épidémie progresse encore dans "
            "plusieurs régions du pays.",
            ("l'épidémie progresse encore dans plusieurs régions du pays", "Agnès Buzyn"),
        ),
        (
            "Mais selon Paul Martin, la réforme ne passera pas avant l'été prochain.",
            ("la réforme ne passera pas avant l'été prochain", "Paul Martin"),
        ),
    ],
)
def test_who_a_statement_is_according_to_past_an_apposition(nlp, text, expected) -> None:
    assert [(words, speaker) for _, words, speaker in said(nlp, text)] == [expected]


def test_a_quote_cut_by_its_attribution_resumes_after_the_speakers_role(nlp) -> None:
    text = (
        "« La désinformation a été une des caractéristiques de la pandémie, rappelle Ana Sofia "
        "Cardenal, professeure de sciences politiques et auteure de cette étude. Dans certains "
        "cas, il s'agissait de fausses informations. »"
    )
    assert said(nlp, text) == [
        (
            "direct",
            "La désinformation a été une des caractéristiques de la pandémie",
            "Ana Sofia Cardenal",
        ),
        (
            "direct",
            "Dans certains cas, il s'agissait de fausses informations.",
            "Ana Sofia Cardenal",
        ),
    ]


def test_a_present_participle_and_fait_savoir_report_what_follows(nlp) -> None:
    text = (
        "Le Premier ministre Andrej Babiš a fait savoir qu'il allait demander la démission du "
        "ministre. Il a qualifié la réunion de faute grave, estimant que les membres du "
        "gouvernement devaient donner l'exemple."
    )
    assert said(nlp, text) == [
        ("indirect", "il allait demander la démission du ministre", "Andrej Babiš"),
        ("indirect", "les membres du gouvernement devaient donner l'exemple", "Andrej Babiš"),
    ]


def test_what_was_read_in_a_medium_is_the_mediums(nlp) -> None:
    text = (
        "Le 6 décembre 2019, François Bayrou est mis en examen. « Au total, une douzaine de "
        "responsables du Modem ont été mis en examen dans cette affaire », peut-on lire dans "
        "Les Échos.\n\nLe 24 octobre 2019, on lit sur Le Point que le Parquet national "
        "financier a ouvert une enquête à l'encontre du directeur de cabinet."
    )
    assert [(kind, speaker) for kind, _, speaker in said(nlp, text)] == [
        ("direct", "Les Échos"),
        ("indirect", "Le Point"),
    ]


def test_the_name_of_a_charge_is_not_a_quote(nlp) -> None:
    text = (
        "Le 4 décembre 2019, Marielle de Sarnez est mise en examen pour « détournement de fonds "
        "publics ». Une information judiciaire a été ouverte par le parquet de Paris pour "
        "« soustraction de documents ou objets concernant un crime ou un délit »."
    )
    assert said(nlp, text) == []


def test_an_infinitive_after_a_modal_and_quotes_joined_by_ni(nlp) -> None:
    text = (
        "« Tout va bien », pourrait commenter le président Emmanuel Macron.\n\n"
        "Françoise Nyssen avait fait réaliser les travaux « sans autorisation », ni "
        "« déclaration au fisc », écrit Le Canard enchaîné."
    )
    assert [(kind, words, speaker) for kind, words, speaker in said(nlp, text)] == [
        ("direct", "Tout va bien", "Emmanuel Macron"),
        ("partial", "sans autorisation", "Le Canard enchaîné"),
        ("partial", "déclaration au fisc", "Le Canard enchaîné"),
    ]


def test_a_persons_name_is_without_the_role_the_model_took_in(nlp) -> None:
    text = (
        "Le 4 septembre, la ministre des Sports Laura Flessel annonce sa démission pour des "
        "« raisons personnelles »."
    )
    assert said(nlp, text) == [("partial", "raisons personnelles", "Laura Flessel")]


def test_a_participle_or_a_modal_inside_reported_speech_does_not_cut_it(nlp) -> None:
    text = (
        "Le ministre a affirmé que le gouvernement, qui doit annoncer ses mesures mardi, a "
        "décidé de maintenir la réforme."
    )
    assert [words for _, words, _ in said(nlp, text)] == [
        "le gouvernement, qui doit annoncer ses mesures mardi, a décidé de maintenir la réforme"
    ]


def test_a_complement_between_the_verb_and_its_subject_is_not_the_speaker(nlp) -> None:
    text = (
        "Le ministre de l'Éducation Pierre Lambert a été vu sans masque dans un café de Lyon."
        "\n\n« Je ne quitterai pas mon poste », a déclaré à cette occasion le ministre de "
        "l'Éducation. « La réforme avance », a dit mardi au Parisien la directrice de l'école, "
        "Claire Dumas."
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["speaker"], q["speaker_canonical"]) for q in quotes] == [
        ("le ministre de l'Éducation", "Pierre Lambert"),  # the role the model took into his name
        ("la directrice de l'école, Claire Dumas", "Claire Dumas"),
    ]


def test_a_bare_role_is_the_person_its_paragraph_names(nlp) -> None:
    text = (
        "La ministre de la Santé Agnès Roussel a présenté son plan mardi.\n\n"
        "Françoise Martin dirigeait une maison d'édition avant son entrée au gouvernement. "
        "Elle avait fait réaliser des travaux « sans autorisation », écrit Le Canard enchaîné. "
        "Une « négligence », tente d'expliquer la ministre."
    )
    assert said(nlp, text)[-1] == ("partial", "négligence", "Françoise Martin")


def test_a_title_names_its_holder_and_a_tabloid_is_a_medium(nlp) -> None:
    text = (
        "Photos à l'appui, le tabloïd Blesk révèle ce vendredi que le maire a dîné au restaurant "
        "sans masque. Le Premier ministre a fait savoir qu'il lui cherchait un remplaçant. Le "
        "lendemain, le Premier ministre Karel Novák a confirmé son choix."
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["speaker_canonical"], q["speaker_kind"]) for q in quotes] == [
        ("Blesk", "media"),
        ("Karel Novák", "person"),
    ]


def test_the_statement_after_pour_x_is_not_an_apposition_telling_a_gender(nlp) -> None:
    # `cette attitude` opens what Tomáš Beneš holds: it does not make him a woman, so
    # `il` is still him, not the man named before
    text = (
        "Le président Jan Dvořák a convoqué le Premier ministre au château.\n\n"
        "Membre de la coalition, Tomáš Beneš avait estimé plus tôt que le ministre avait perdu "
        "toute crédibilité. Pour Tomáš Beneš, cette attitude est méprisante envers les "
        "soignants. « Les règles valent pour tout le monde », a-t-il réagi."
    )
    assert said(nlp, text)[-1] == ("direct", "Les règles valent pour tout le monde", "Tomáš Beneš")


def test_an_accusation_quotes_the_accuser(nlp) -> None:
    text = (
        "Le 31 août, le député Karim Benali frappe un élu d'opposition. Pour sa défense, il "
        "accuse Paul Girard d'« insultes répétées »."
    )
    assert said(nlp, text) == [("partial", "insultes répétées", "Karim Benali")]


def test_an_incise_between_the_auxiliary_and_the_participle_keeps_the_verb(nlp) -> None:
    text = (
        "La ministre Hélène Carrel avait, de son côté, déclaré que « l'option militaire » "
        "restait « sur la table ». Le maire Paul Girard a, lui aussi, affirmé qu'il ne se "
        "représenterait pas. La ville a, depuis, changé de nom."
    )
    assert said(nlp, text) == [
        ("indirect", "« l'option militaire » restait « sur la table »", "Hélène Carrel"),
        ("indirect", "il ne se représenterait pas", "Paul Girard"),
    ]


def test_an_institution_is_the_one_named_with_its_word_or_nobody(nlp) -> None:
    text = (
        "La préfecture du Rhône a interdit la manifestation. La CGT a protesté, et le "
        "ministre de l'Intérieur s'est tu. Selon la préfecture, le cortège aurait menacé la "
        "sécurité. Selon la préfecture du Nord, la route est coupée. D'après la mairie, tout "
        "s'est bien passé. Le syndicat a ajouté que la grève continuerait."
    )
    who = [who for _, _, who in said(nlp, text)]
    assert who == ["préfecture du Rhône", None, None, "CGT"]


def test_a_quote_goes_on_with_its_speaker_even_one_not_resolved(nlp) -> None:
    text = (
        "Le maire Paul Girard a parlé mardi. « Nous fermerons l'école », a indiqué la "
        "mairie. « Les travaux dureront tout l'été et les élèves seront accueillis dans le "
        "gymnase de la ville. »"
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["quote_id"], q["speaker"], q["speaker_canonical"]) for q in quotes] == [
        (0, "la mairie", None),
        (0, "la mairie", None),  # not Paul Girard, named before: one quote, the mairie's
    ]
    # but a sentence that names someone else between makes the next quote a quote apart
    text = (
        "« Nous ne céderons pas sur les retraites », a déclaré Paul Girard. Jean Dupont, son "
        "adversaire, reste sceptique. « Ce sont des promesses de campagne que personne ne "
        "tiendra une fois les élections passées. »"
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["quote_id"], q["speaker_canonical"]) for q in quotes] == [
        (0, "Paul Girard"),
        (1, "Jean Dupont"),
    ]


def test_a_few_more_verbs_report(nlp) -> None:
    text = (
        "« Nous ne voterons pas ce texte », a redit mardi Paul Girard. « C'est une erreur », "
        "tacle Jean Dupont. « Rien n'est perdu », relativise Claire Martin."
    )
    assert [(kind, who) for kind, _, who in said(nlp, text)] == [
        ("direct", "Paul Girard"),
        ("direct", "Jean Dupont"),
        ("direct", "Claire Martin"),
    ]


def test_how_each_speaker_was_found_is_told(nlp) -> None:
    text = (
        "Le ministre de l'Éducation Pierre Lambert a visité un lycée de Lyon. « Nous tiendrons "
        "le calendrier », a-t-il dit. « La réforme avance », a affirmé le ministre de "
        "l'Éducation. « Rien n'est joué », a répondu Paul Durand, syndicaliste.\n\n"
        "« Les enseignants attendent des moyens concrets pour la rentrée et des postes "
        "en plus dans chaque académie. »\n\n"
        "« C'est flou », a lancé un manifestant."
    )
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["speaker_canonical"], q["speaker_via"]) for q in quotes] == [
        ("Pierre Lambert", "pronoun"),
        ("Pierre Lambert", "role"),
        ("Paul Durand", "name"),
        ("Paul Durand", "context"),
        (None, None),  # an indefinite phrase names nobody
    ]


def test_ce_dernier_is_the_person_named_last_not_who_spoke_last(nlp) -> None:
    text = (
        "« Le plan est prêt », a déclaré Claire Martin. Elle a rencontré le député Jean "
        "Dupont lundi. Ce dernier a assuré que les aides arriveraient avant l'été. Sophie "
        "Lambert était à Lille avec Paul Girard. Celle-ci a affirmé que le plan serait tenu. "
        "L'intéressée a ajouté que rien n'était joué."
    )
    assert [who for _, _, who in said(nlp, text)] == [
        "Claire Martin",
        "Jean Dupont",  # not Claire Martin, who spoke last
        "Sophie Lambert",  # the woman named last, not Paul Girard
        "Sophie Lambert",
    ]
    # someone else that can be meant, named after them: nobody; their apposition is theirs
    text = (
        "Jean Dupont a été reçu mardi par le ministre de l'Intérieur. Ce dernier a assuré que "
        "les aides arriveraient. Paul Martin a signé un contrat avec le PSG. Celui-ci a annoncé "
        "que le joueur resterait cinq ans. Marie Durand, la maire de Lyon, a visité le chantier. "
        "Cette dernière a assuré que les travaux seraient finis en mai. L'avocat de celle-ci a "
        "affirmé qu'elle était innocente."
    )
    quotes = quotes_of(nlp, text)[1]
    assert [(q["speaker"], q["speaker_canonical"], q["speaker_kind"]) for q in quotes] == [
        ("Ce dernier", None, "unknown"),
        ("Celui-ci", None, "unknown"),
        ("Cette dernière", "Marie Durand", "person"),
        ("L'avocat de celle-ci", None, "person"),  # not the one `celle-ci` is
    ]
    # but a predicate, a complement, a plural, a noun of the other gender or one inside a
    # quote stands for no one else
    text = (
        "Pierre Blanc a été élu maire de Nantes, président du conseil de la métropole. Ce "
        "dernier a assuré que la ville allait changer. Marc Aubert a été interrogé par la juge "
        "d'instruction devant des journalistes. Ce dernier a assuré qu'il était innocent. Anne "
        "Morel a présenté son plan. « Le gouvernement doit nous aider », a-t-elle lancé. "
        "Celle-ci a ensuite estimé que la région devait agir."
    )
    assert [who for _, _, who in said(nlp, text)] == [
        "Pierre Blanc",
        "Marc Aubert",
        "Anne Morel",
        "Anne Morel",
    ]


def test_a_pronoun_agrees_with_the_first_name_when_the_text_gives_no_gender(nlp) -> None:
    text = (
        "Sophie Lambert a rencontré Paul Girard à Lille. Elle a affirmé que le plan serait "
        "tenu. « Rien n'est joué », a-t-il répondu."
    )
    assert [who for _, _, who in said(nlp, text)] == ["Sophie Lambert", "Paul Girard"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # the attribution first, with `comme`
            "Comme l'a rappelé Élisabeth Borne, le texte sera voté en mai.",
            [("le texte sera voté en mai", "Élisabeth Borne")],
        ),
        ("Comme prévu, la séance a été levée à midi.", []),
        (  # past the speaker's apposition
            "Comme le souligne Jean Dupont, maire de Lyon, la ville manque de logements.",
            [("la ville manque de logements", "Jean Dupont")],
        ),
        ("Comme il l'avait promis, Emmanuel Macron s'est rendu à Kiev mardi.", []),
        (  # a bare role is passed over, but not the start of the statement
            "Pour Jean Dupont, président de la région, la ligne sera prolongée. Pour le "
            "syndicat, salariés, retraités et chômeurs seront tous perdants.",
            [
                ("la ligne sera prolongée", "Jean Dupont"),
                ("salariés, retraités et chômeurs seront tous perdants", None),
            ],
        ),
        (  # `à en croire X`, as `selon X`
            "À en croire le maire, Pierre Lambert, les travaux seront finis en mai.",
            [("les travaux seront finis en mai", "Pierre Lambert")],
        ),
        (  # a statement after a colon, not quoted; a noun phrase there is no statement
            "Sophie Binet a averti mardi : - la grève durera. Le ministre Paul Girard a "
            "annoncé : trois mesures pour les familles qui ont des enfants. Météo-France a "
            "annoncé : des orages dans l'est du pays. Jean Dupont a écrit trois livres : le "
            "premier est paru en 2010.",
            [("la grève durera", "Sophie Binet")],
        ),
        (  # the colon after a quote's attribution opens the writer's comment
            "Une « ruée », écrit-il : c'est un terme choquant et l'éditeur a eu tort.",
            [("ruée", None)],
        ),
        (  # a statement in a relative clause ends where the sentence's verb resumes, not
            # at its own subject's apposition
            "Le maire de Lyon, Paul Girard, qui a affirmé que la mesure était injuste, votera "
            "contre. Il a rencontré Jean Dupont, qui a affirmé que la réforme, contestée par "
            "les syndicats, sera adoptée.",
            [
                ("la mesure était injuste", "Paul Girard"),
                ("la réforme, contestée par les syndicats, sera adoptée", "Jean Dupont"),
            ],
        ),
        (  # someone's view told as a noun
            "L'hypothèse de Stephen Smith consiste à dire que la migration va doubler. "
            "L'idée du projet est que chacun puisse venir. L'analyse des données est que les "
            "prix vont baisser.",
            [("la migration va doubler", "Stephen Smith")],
        ),
    ],
)
def test_reported_speech_in_more_of_its_forms(nlp, text, expected) -> None:
    assert [(words, who) for _, words, who in said(nlp, text)] == expected


def test_a_pronoun_is_the_subject_before_a_name_after_a_preposition(nlp) -> None:
    text = (
        "Jean Dupont a déjeuné mardi avec Paul Martin. Il a affirmé que la réforme passerait "
        "au printemps."
    )
    assert [who for _, _, who in said(nlp, text)] == ["Jean Dupont"]


def test_a_possessed_document_is_its_owners(nlp) -> None:
    text = (
        "La sociologue Claire Vasseur a étudié les réseaux sociaux pendant cinq ans. « Les "
        "rumeurs vont plus vite que les démentis », explique-t-elle. Son rapport affirme que "
        "les plateformes n'ont rien fait. Le ministre Paul Girard a reçu les chercheurs. Selon "
        "son avocat, la plainte sera déposée lundi.\n\n"
        # not when someone else is named since, nor `leur` for one person
        "« La situation est grave », a déclaré Jean Dupont. L'Insee a publié lundi une note sur "
        "l'emploi. Selon son étude, le chômage augmente. Leur rapport affirme que le climat "
        "se réchauffe."
    )
    assert [(who, kind) for kind, _, who in said(nlp, text)] == [
        ("Claire Vasseur", "direct"),
        ("Claire Vasseur", "indirect"),
        (None, "indirect"),
        ("Jean Dupont", "direct"),
        (None, "indirect"),
        (None, "indirect"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # `qui` is what stands right before it, after a preposition too
            "La ministre Claire Martin a présenté sa réforme. Celle-ci a été critiquée par les "
            "syndicats, qui affirment que les salaires vont baisser. Le texte a été rejeté par "
            "Jean Dupont, qui a estimé que la mesure était injuste.",
            [("les syndicats", None), ("Jean Dupont", "Jean Dupont")],
        ),
        (  # the head of the phrase, not its complement nor the second of two
            "Le juge a entendu l'avocat de Marie Durand, qui a assuré que sa cliente était "
            "innocente. Jean Dupont et Marie Durand, qui affirment que la mesure est injuste, "
            "ont écrit au préfet.",
            [("l'avocat de Marie Durand", None), ("Jean Dupont", "Jean Dupont")],
        ),
        (  # a relative clause closed before the verb tells of the name before it; one
            # the verb is in has its own subject
            "Jean Dupont, qui dirige la région depuis 2015, a affirmé que la mesure était "
            "injuste. Il a évoqué l'incarcération d'Antonin, dont Alain Bauer dira à la "
            "télévision qu'elle explique le faible nombre de manifestants.",
            [("Jean Dupont", "Jean Dupont"), ("Alain Bauer", "Alain Bauer")],
        ),
        (  # a cleft's pronoun; relative clauses of every kind closed before the verb
            "La ministre Claire Martin a reçu les syndicats. C'est elle qui a annoncé que la "
            "réforme serait retirée. Jean Dupont, chez qui la police a perquisitionné, a "
            "déclaré que l'enquête était injuste. Paul Girard, que le juge a entendu mardi, a "
            "déclaré que les faits étaient prescrits.",
            [
                ("elle", "Claire Martin"),
                ("Jean Dupont", "Jean Dupont"),
                ("Paul Girard", "Paul Girard"),
            ],
        ),
        (  # a relative clause's own subject past an aside; a name before `qui`
            "Une hausse que les économistes, pour la plupart, jugent « inévitable ». Hier, "
            "François Bayrou qui était à Pau, a affirmé que la loi passerait.",
            [("les économistes", None), ("François Bayrou", "François Bayrou")],
        ),
        (  # a colon after the verb of a subject in apposition
            "Sophie Binet, secrétaire générale de la CGT, prévient : la grève sera reconduite "
            "jusqu'au retrait du texte.",
            [("Sophie Binet", "Sophie Binet")],
        ),
    ],
)
def test_the_subject_of_a_reporting_verb_past_a_relative_clause(nlp, text, expected) -> None:
    _, quotes, _ = quotes_of(nlp, text)
    assert [(q["speaker"], q["speaker_canonical"]) for q in quotes] == expected
