from pathlib import Path

import pytest

from ingest.language import cjk_evidence, detect_language, guess_language

ROOT = Path(__file__).resolve().parents[1]

# One or two realistic consultation-desk sentences per guidebook language.
SENTENCES = {
    "ja": ["在留カードをなくした場合は、14日以内に再交付を申請してください。",
           "引っ越しをしたら、市役所に転入届を出します。"],
    "zh-Hans": ["我的在留卡丢了怎么办", "搬家后，请在14天内到市区町村办理住址变更手续。"],
    "zh-Hant": ["我的在留卡遺失了，該怎麼辦？", "在留卡是發給在日本居留超過3個月的中長期在留者的身份證明文件。"],
    "en": ["I lost my residence card. What should I do?",
           "When you move, submit a moving-in notification at the city office within 14 days."],
    "vi": ["Tôi bị mất thẻ cư trú, tôi phải làm gì?",
           "Khi chuyển nhà, bạn phải nộp thông báo trong vòng 14 ngày."],
    "pt": ["Perdi meu cartão de residência. O que devo fazer?",
           "Quando se mudar, apresente a notificação de mudança na prefeitura dentro de 14 dias."],
    "es": ["Perdí mi tarjeta de residencia. ¿Qué debo hacer?",
           "Cuando se mude, debe presentar la notificación en el ayuntamiento dentro de 14 días."],
    "tl": ["Nawala ko ang aking residence card. Ano ang dapat kong gawin?",
           "Kapag lumipat ka ng tirahan, kailangan mong magsumite ng abiso sa munisipyo "
           "sa loob ng 14 na araw."],
    "id": ["Kartu izin tinggal saya hilang. Apa yang harus saya lakukan?",
           "Jika pindah rumah, Anda harus melapor ke kantor kota dalam waktu 14 hari."],
    "tr": ["İkamet kartımı kaybettim. Ne yapmalıyım?",
           "Taşındığınızda 14 gün içinde belediyeye bildirimde bulunmanız gerekir."],
    "ne": ["मेरो निवास कार्ड हरायो। मैले के गर्नुपर्छ?", "घर सर्दा १४ दिनभित्र नगरपालिकामा सूचना दिनुपर्छ।"],
    "th": ["ฉันทำบัตรผู้พำนักหาย ต้องทำอย่างไร", "เมื่อย้ายบ้าน ต้องแจ้งที่สำนักงานเขตภายใน 14 วัน"],
    "ko": ["재류카드를 잃어버렸어요. 어떻게 해야 하나요?", "이사를 하면 14일 이내에 시청에 신고해야 합니다."],
    "my": ["ကျွန်တော့် နေထိုင်ခွင့်ကတ် ပျောက်သွားပါတယ်။ ဘာလုပ်ရမလဲ။"],
    "km": ["ខ្ញុំបាត់ប័ណ្ណស្នាក់នៅ។ តើខ្ញុំត្រូវធ្វើអ្វី?"],
    "mn": ["Би оршин суух үнэмлэхээ гээсэн. Яах ёстой вэ?",
           "Нүүсэн бол 14 хоногийн дотор хотын захиргаанд мэдэгдэх ёстой."],
    "uk": ["Я загубив посвідку на проживання. Що мені робити?",
           "Після переїзду потрібно повідомити міську адміністрацію протягом 14 днів."],
    # Interpreting languages with no edition (ISA's 20-language interpreting support).
    "fr": ["J'ai perdu ma carte de résident. Que dois-je faire ?",
           "Après un déménagement, il faut déclarer sa nouvelle adresse à la mairie dans les 14 jours."],
    "ru": ["Я потерял карту резидента. Что мне делать?"],
    "ar": ["فقدت بطاقة الإقامة. ماذا يجب أن أفعل؟"],
    "ur": ["میرا رہائشی کارڈ گم ہو گیا ہے۔ مجھے کیا کرنا چاہیے؟"],
    "si": ["මගේ පදිංචි කාඩ්පත නැති වුණා. මම මොකද කරන්න ඕනේ?"],
    "bn": ["আমার রেসিডেন্স কার্ড হারিয়ে গেছে। আমার কী করা উচিত?"],
}
CASES = [(lang, text) for lang, texts in SENTENCES.items() for text in texts]


@pytest.mark.parametrize("lang, text", CASES, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(CASES)])
def test_sentence_gets_its_edition_code(lang, text):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text, lang", [
    ("在留カードを紛失した", "ja"),
    ("我的在留卡丢了怎么办", "zh-Hans"),
    ("国民健康保険加入手続", "ja"),        # Han only, but 険 and 続 are Japanese forms
    ("在留資格変更許可申請", "ja"),
    ("在留资格变更许可申请", "zh-Hans"),
    ("在留資格變更許可申請", "zh-Hant"),
    ("房租每月五萬圓", "zh-Hant"),  # 萬 圓: Traditional forms (万 円 in Japanese, 万 元 in Simplified)
    ("在留卡（在留カード）是发给在日本居留超过3个月的中长期在留者（中長期在留者）的身份证明文件。", "zh-Hans"),
])
def test_han_text_is_told_apart(text, lang):
    assert detect_language(text) == lang


def test_japanese_terms_do_not_make_another_edition_japanese():
    assert detect_language("Residence card: apply within 14 days (在留カード).") == "en"
    assert detect_language("Thẻ cư trú (在留カード) phải luôn mang theo người.") == "vi"
    assert detect_language("निवास कार्ड (在留カード) सधैं साथमा राख्नुहोस्।") == "ne"


@pytest.mark.parametrize("text, lang", [
    ("garbage", "en"), ("visa renewal", "en"), ("nenkin", "en"),  # model unsure: English
    ("rent deposit", "en"),  # French at 0.54: French needs more certainty than the others
    ("allocations familiales", "fr"), ("impôt sur le revenu", "fr"), ("carte de séjour perdue", "fr"),
    ("cartão", "pt"), ("sampah", "id"), ("çöp", "tr"), ("thẻ cư trú", "vi"),  # short but telling
])
def test_short_latin_queries(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", [
    "Toi muon doi dia chi, phai lam gi?",  # py3langid: vi at .37, so English before
    "Toi bi mat the",  # py3langid: en
    "nha toi o Osaka",  # py3langid: pt
])
def test_vietnamese_typed_without_diacritics(text):
    assert detect_language(text) == "vi"


@pytest.mark.parametrize("text, lang", [
    ("Can I do a part-time job as a student?", "en"), ("Where do I pay my resident tax?", "en"),
    ("Nao sei onde pagar o imposto", "pt"), ("Saan ako magbabayad ng buwis?", "tl"),
])
def test_other_plain_ascii_questions_are_not_taken_for_vietnamese(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["", "   ", "12345 67", "。、！？ 2024-01-01", "(03) 5796-7112"])
def test_no_letters_is_undetermined(text):
    assert detect_language(text) == "und"


def test_old_name_is_the_same_function():
    assert guess_language is detect_language


def test_cjk_evidence_counts_kana_and_standard_specific_han():
    assert cjk_evidence("在留カードを紛失した").japanese
    assert not cjk_evidence("在留卡（在留カード）丢了怎么办").japanese
    assert not cjk_evidence("在留資格").japanese  # no telling character: not claimed as Japanese


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "guidebook").glob("*/*.md")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_guidebook_files_are_detected_as_their_edition(path):
    edition = path.parent.name
    assert detect_language(path.read_text(encoding="utf-8")) == ("ja" if edition == "ja-easy" else edition)


@pytest.fixture
def fresh_language_model(monkeypatch):
    """The module's loaded identifiers and cache setting, reset for one test and restored after."""
    import ingest.language as language

    monkeypatch.setattr(language, "_identifiers", {})
    monkeypatch.setattr(language, "_cache_dir", None)
    return language


def test_model_cache_copy_classifies_like_the_packaged_model(tmp_path, fresh_language_model):
    language = fresh_language_model
    texts = [t for lang, ts in SENTENCES.items() for t in ts]
    packaged = [detect_language(t) for t in texts]
    assert not list(tmp_path.iterdir())  # no cache named: nothing written

    language.use_model_cache(tmp_path)
    language._identifiers.clear()
    assert [detect_language(t) for t in texts] == packaged  # the run that writes the copy
    copies = list(tmp_path.glob("py3langid-*.npz"))
    assert len(copies) == 1 and not list(tmp_path.glob(".*tmp*"))

    language._identifiers.clear()
    assert [detect_language(t) for t in texts] == packaged  # the run that reads it


def test_damaged_model_cache_is_replaced_not_fatal(tmp_path, fresh_language_model):
    language = fresh_language_model
    language.use_model_cache(tmp_path)
    detect_language(SENTENCES["en"][0])
    (copy,) = tmp_path.glob("py3langid-*.npz")
    copy.write_bytes(b"PK\x03\x04 truncated")

    language._identifiers.clear()
    assert detect_language(SENTENCES["pt"][0]) == "pt"  # from the packaged model
    assert not copy.exists()  # dropped, so the next run writes a good one


def test_unwritable_model_cache_falls_back_to_the_packaged_model(tmp_path, fresh_language_model):
    language = fresh_language_model
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    language.use_model_cache(blocker / "models")
    assert detect_language(SENTENCES["vi"][0]) == "vi"  # slower, same answer
