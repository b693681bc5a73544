"""The shared tokenizer: dictionary words, synonyms, no blank tokens, deterministic."""

from knowledge_base.tokenizer import GovTokenizer, canonical, shared_tokenizer


def words(text: str) -> list[str]:
    return [t.text for t in shared_tokenizer().tokenize(text)]


def test_dictionary_words_stay_whole():
    assert "营业执照" in words("办营业执照要带什么材料?")
    assert "住房公积金" in words("住房公积金提取")
    assert "爱山东APP" in words("爱山东APP怎么实名认证")


def test_no_blank_or_punctuation_tokens():
    for text in ["社保卡  补办 ", "！！？", "。。。", "\t\n", "🙂🙂", "a  b", ""]:
        for token in shared_tokenizer().tokenize(text):
            assert token.text.strip(), f"blank token in {text!r}"
            assert any(ch.isalnum() for ch in token.text), f"punctuation token {token.text!r} in {text!r}"


def test_offsets_point_into_the_text():
    text = "我想 问下 身份证丢了咋补办？"
    for token in shared_tokenizer().tokenize(text):
        assert text[token.start : token.end] == token.text


def test_synonyms_fold_to_one_canonical_term():
    assert canonical("社保") == canonical("社会保险") == "社会保险"
    assert canonical("公积金") == "住房公积金"
    assert canonical("执照") == "营业执照"
    assert canonical("身分证") == "居民身份证"  # a common typo
    assert canonical("户籍") == canonical("户口")
    assert canonical("网办") == "网上办理"


def test_search_terms_match_across_synonyms():
    tokenizer = shared_tokenizer()
    assert "社会保险" in tokenizer.search_terms("社保怎么交")
    assert "住房公积金" in tokenizer.search_terms("公积金提取")
    assert "营业执照" in tokenizer.search_terms("个体户执照")


def test_stopwords_are_not_search_terms():
    assert shared_tokenizer().search_terms("请问我想问一下怎么办呢") == []


def test_deterministic_across_instances():
    text = "孩子出生了怎么给他上户口，医保和社保卡能一起办吗"
    assert [t.text for t in GovTokenizer().tokenize(text)] == words(text)
    assert GovTokenizer().search_terms(text) == shared_tokenizer().search_terms(text)


def test_dialect_pronouns_and_glued_how_are_not_search_terms():
    # 俺 / 俺们 / 咱 only dilute a question's coverage; "咋领" is the verb 领 asked about.
    terms = shared_tokenizer().search_terms("俺们俩想问问高龄津贴咋领")
    assert "俺" not in terms and "俺们" not in terms and "俩" not in terms
    assert "领" in terms and "咋领" not in terms
    assert shared_tokenizer().search_terms("咱这咋整") == []
