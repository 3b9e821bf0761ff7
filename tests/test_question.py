"""Reading a question into one typed query: filters, the polarity asked, the answer wanted."""


def test_the_question_reader_gives_one_typed_query_the_scoring_reads():
    from assistant.question import QuestionReader, follow_up

    read = QuestionReader({"wakefield": "Wakefield", "dudley": "Dudley"}).read
    weak = read("Which authorities had weak contingency planning?")
    assert weak.polarity == -1 and weak.answer_type is None and "looking for: weaknesses" in weak.describe()
    praised = read("Which authorities were praised for their care leavers service?")
    assert praised.polarity == 1 and "looking for: strengths" in praised.describe()
    when = read("When did Ofsted last visit Wakefield?")
    assert when.polarity == 0 and when.answer_type == "date" and "wants: a date" in when.describe()
    # "what about Dudley?" asks the same of Dudley: the polarity and type go with the topic
    again = follow_up(read("What about Dudley?"), weak)
    assert again.topic == weak.topic and again.polarity == -1
    assert follow_up(read("and Dudley?"), when).answer_type == "date"
    # a compare table reads both polarities, but a question after it asks about the same topic
    compared = read("Compare Wakefield and Dudley on weak contingency planning")
    assert compared.mode == "compare" and "looking for" not in compared.describe()
    after = follow_up(read("and since 2022?"), compared)
    assert after.mode is None and after.polarity == -1
    # a query made by hand reads its polarity and type from its own words
    from assistant.question import Query

    assert Query("When were plans weak?", "plans weak").polarity == -1
    assert Query("When were plans weak?", "plans weak").answer_type == "date"
