import pytest

from linli.adapters.sms import SmsMessage, count_segments
from linli.core.phones import InvalidPhone


def test_number_is_normalised_and_masked():
    """A message keeps the normalised number and shows it masked in its result."""
    message = SmsMessage(to="+86 138-1234-5678", text="您好", reference="attempt:1")
    assert message.to == "13812345678"
    assert message.to_masked == "138****5678"
    result = message.result(accepted=True, provider_id="x")
    assert (result.to_masked, result.reference, result.segments) == ("138****5678", "attempt:1", 1)


@pytest.mark.parametrize("to", ["02988881234", "12345", ""])
def test_only_mobile_numbers_are_accepted(to):
    """A landline or a malformed number fails where the message is built."""
    with pytest.raises(InvalidPhone):
        SmsMessage(to=to, text="您好")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_refused(text):
    """An SMS without text is refused."""
    with pytest.raises(ValueError, match="短信内容为空"):
        SmsMessage(to="13812345678", text=text)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("邻" * 70, 1),  # UCS-2: 70 characters fit one SMS
        ("邻" * 71, 2),  # then parts of 67
        ("邻" * 134, 2),
        ("邻" * 135, 3),
        ("a" * 160, 1),  # GSM 7-bit: 160 fit one SMS
        ("a" * 161, 2),  # then parts of 153
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extension characters take two septets
        ("{" * 81, 2),
        ("a" * 69 + "邻", 1),  # one Chinese character makes the whole text UCS-2
        ("a" * 70 + "邻", 2),
        ("😷" * 35, 1),  # characters beyond the BMP count twice
        ("😷" * 36, 2),
    ],
)
def test_segments_are_counted_as_carriers_bill_them(text, segments):
    """Segments follow the UCS-2 (70/67) and GSM 7-bit (160/153) rules."""
    assert count_segments(text) == segments


def test_a_typical_screening_sms_fits_two_segments():
    """A Chinese invitation with a link is counted with the link's characters."""
    text = (
        "【邻里】长延堡社区健康排查：请于今天20点前点击 "
        "https://linli.example.cn/h/4C92.1mE7Rq.AbCdEfGhIjKlMnOpQrStUv/ 填写，谢谢配合。"
    )
    message = SmsMessage(to="13812345678", text=text)
    assert message.segments == count_segments(text) == 2
