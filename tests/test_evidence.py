"""How questions are read for sentence scoring: topic words, answer types, names."""

import pytest

from assistant import evidence


@pytest.mark.parametrize("topic, words", [
    # the manner word after a negation says how badly, not what about
    ("Where was neglect not properly identified or understood", ["neglect", "identifi", "understood"]),
    # "well" qualifies, like "good"
    ("Where were strategy meetings not working well", ["strategi", "meet", "work"]),
    # frame words go ...
    ("What did inspectors say about assessments", ["assess"]),
    # ... unless the question asks who holds that role
    ("Who were the inspectors on the monitoring visit", ["inspector", "monitor", "visit"]),
])
def test_content_terms(topic, words):
    assert evidence.content_terms(topic) == words


def test_stance_targets_skip_the_manner_word():
    assert evidence.stance_targets("Where was neglect not properly identified") == {"identifi"}


@pytest.mark.parametrize("question, kind", [
    ("How long was the CAMHS waiting list in Wirral?", "quantity"),
    ("How many locality team hubs does Wolverhampton have?", "count"),
    ("What proportion of plans had a contingency?", "count"),
    ("When did inspectors visit Dudley?", "date"),
    ("Who were the inspectors?", "person"),
    ("What did inspectors say about audits?", None),
])
def test_answer_type(question, kind):
    assert evidence.answer_type(question) == kind


def test_a_count_is_any_number_and_a_quantity_needs_a_duration_or_figure():
    hubs = "Children are allocated a social worker in one of eight locality team hubs."
    assert evidence.has_answer_type(hubs, "count")
    assert not evidence.has_answer_type(hubs, "quantity")
    assert evidence.has_answer_type("The waiting list is eight months, and this is too long.", "quantity")
    assert not evidence.has_answer_type("Plans are not clear.", "count")


@pytest.mark.parametrize("text, named", [
    ("The inspectors were Ian Young HMI, Susan Myers HMI and Shabana Abasi, seconded inspector.", True),
    ("The visit was conducted by Alison Smale and John Roughton, two of Her Majesty's Inspectors.", True),
    ("Cabinet member with lead responsibility\tCouncillor Val Gibson Children and Young People", True),
    ("This letter summarises the findings of the monitoring visit to Wirral Metropolitan Borough "
     "Council children's services on 5 and 6 April 2017.", False),
    ("Wolverhampton Safeguarding Children Board", False),
    ("The Ofsted inspection commenced in Wolverhampton on 16 January 2017.", False),
])
def test_person_names_are_told_from_places_and_bodies(text, named):
    assert evidence.has_answer_type(text, "person") is named


def test_a_word_the_letters_only_use_in_a_compound_stands_for_it():
    from assistant.textsearch import KeywordIndex

    keyword = KeywordIndex.build([["placement", "breakdown"], ["placement", "stabl"]])
    assert keyword.expand("breakdown") == ["breakdown"]
    assert keyword.expand("break") == ["breakdown"]  # never seen alone
    assert keyword.expand("pla") == []  # too short to mean something
    assert keyword.expand("prison") == []
    assert keyword.idf("break") == keyword.idf("breakdown") < keyword.idf("prison")
    assert keyword.scores(["break"])[0] > 0 == keyword.scores(["break"])[1]


def test_a_sentence_saying_the_amount_went_the_other_way_contradicts():
    high = evidence.directions("Which authorities had high caseloads for social workers")
    assert [thing for thing, _, _ in high] == ["caseload"]

    def says(sentence):
        return evidence.contradicts(evidence.sentence_markers(sentence)[0], high)

    assert says("Reduced caseloads are better supporting social workers.")
    assert not says("Combined with unacceptably high caseloads for social workers in some teams.")
    assert not says("Caseloads were high and have since been reduced.")  # both ways: not a contradiction
    assert not says("Reduced sickness levels.")  # about something else
    assert evidence.directions("Which authorities had weak contingency planning") == []


def test_a_time_is_a_date_a_month_and_year_or_a_year():
    assert evidence.names_a_time("on 9 and 10 October 2019")
    assert evidence.names_a_time("judged inadequate in September 2016")
    assert evidence.names_a_time("the 2017-18 plan")
    assert not evidence.names_a_time("the next phase of development is to focus on plans")
    assert not evidence.names_a_time("within three months")


@pytest.mark.parametrize("topic, thing", [
    ("What practice approach has implemented for social work", "approach"),  # up to the auxiliary
    ("Which screening tool has recently introduced", "tool"),
    ("Which team provides intensive help and support", "team"),  # no auxiliary: the first word
    ("Which team deals with contacts and referrals", "team"),
    ("What tools for neglect are not embedded", "tool"),
    ("What did say about fostering", None),  # asks for what was said, not for a thing
    ("What is own standard for pre-proceedings", None),
    ("Which authorities had weak contingency planning", None),  # a frame word
    ("How long was the waiting list", None),
])
def test_the_thing_a_which_question_asks_for(topic, thing):
    assert evidence.asked_thing(topic) == thing


def test_the_same_answer_named_elsewhere():
    def stems(sentence):
        return evidence.sentence_markers(sentence)[0]

    ignore = {"the", "a", "practic", "approach"} | set(evidence.content_terms("What practice approach"))
    names = evidence.name_words(stems("Managers work in the restorative strength-based approach."), "approach", ignore)
    assert names == {"restor", "strength", "base"}
    def names_same(sentence):
        return bool(names & evidence.name_words(stems(sentence), "approach", ()))

    assert names_same("using the local authority's restorative practice approach.")
    assert not names_same("The two-tier approach to audit is a strength.")
    assert not names_same("A restorative conversation took place.")


@pytest.mark.parametrize("sentence, stance", [
    # a recommendation says what is missing, whatever strength words it uses
    ("Ensure that all assessments include a consistently robust analysis of risks.", -1),
    ("Develop a robust training strategy.", -1),
    ("Improved management oversight at all levels is helping to sustain better performance.", 1),
    ("Reduced caseloads are better supporting social workers.", 1),
    # what may be, not what is
    ("The two-tier approach to audit is potentially a strength.", 0),
    ("It should enable effective reflection.", 0),
    ("Audits are a strength and should continue.", 1),
])
def test_recommendations_and_hedges_are_not_strengths(sentence, stance):
    assert evidence.sentence_stance(sentence) == stance

