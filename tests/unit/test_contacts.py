"""The contacts file: the shipped one parses and holds only placeholders; mistakes are refused
with the file and line, an unknown unit id above all."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit_support import DIRECTORY_PATH, ROOT, line_of, replace_once

from models.contacts import Contact, ContactBook
from models.delivery import DeliveryChannel
from models.plan import UnitDirectory
from rules.contacts import parse_contacts
from rules.loading import SourceError

CONTACTS_PATH = ROOT / "plans" / "contacts" / "suixian.yaml"
PATH = "plans/contacts/suixian.yaml"


@pytest.fixture(scope="module")
def text() -> str:
    return CONTACTS_PATH.read_text(encoding="utf-8")


def refused(text: str, directory: UnitDirectory) -> SourceError:
    with pytest.raises(SourceError) as e:
        parse_contacts(text, path=PATH, directory=directory)
    return e.value


def test_the_shipped_file_covers_the_directory_with_placeholders(text: str, directory: UnitDirectory) -> None:
    book = parse_contacts(text, path=PATH, directory=directory)
    assert set(book.units) == set(directory.by_id())
    for uid, c in book.units.items():
        assert c.email == f"{uid}@example.gov.invalid"
        assert c.webhook is None or (c.webhook.host or "").endswith(".invalid")
    office = book.units["office"]
    assert office.push_channels() == (DeliveryChannel.email, DeliveryChannel.webhook)
    assert office.webhook_secret_env == "DUBAN_HOOK_OFFICE"
    assert book.units["convener"].push_channels() == (DeliveryChannel.webhook,)
    assert book.units["lishan"].push_channels() == (DeliveryChannel.email,)
    assert book.for_unit("nobody") is None


def test_the_loader_follows_the_directory_reference() -> None:
    from activities.delivery import load_contacts

    book = load_contacts(CONTACTS_PATH)
    assert book.region == "湖北省随州市随县" and len(book.units) == 38


def test_an_unknown_unit_is_refused_at_its_line(text: str, directory: UnitDirectory) -> None:
    bad = replace_once(text, "  gaocheng: {email:", "  gaochen: {email:")
    e = refused(bad, directory)
    assert (e.path, e.line) == (PATH, line_of(bad, "gaochen:"))
    assert str(e) == f"{PATH}:{e.line}: unknown unit 'gaochen': not in the unit directory (湖北省随州市随县)"


def test_yaml_1_2_booleans_a_unit_named_no_is_a_name(directory: UnitDirectory) -> None:
    e = refused("region: x\nunits:\n  office: {email: a@b.test}\n  no: {email: c@d.test}\n", directory)
    assert (e.line, e.message) == (4, "unknown unit 'no': not in the unit directory (湖北省随州市随县)")


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "{email: yindian@example.gov.invalid}",
            "{email: not-an-address}",
            "not-an-address",
            "units.yindian.email: String should match pattern",
        ),
        (
            "    webhook_secret_env: DUBAN_HOOK_OFFICE\n",
            "    webhook_secret: hunter2\n",
            "  office:",
            "units.office: secrets never go in the contacts file",
        ),
        (
            "  caodian: {email: caodian@example.gov.invalid}",
            "  caodian: {email: caodian@example.gov.invalid, channels: [webhook]}",
            "  caodian:",
            "units.caodian: channel webhook is chosen but no webhook URL is given",
        ),
        (
            "    channels: [webhook]",
            "    channels: [fax]",
            "[fax]",
            "units.convener.channels.0: Input should be 'inbox', 'email', 'webhook', 'wecom', 'dingtalk' or 'feishu'",
        ),
        (
            "    webhook: https://im.example.gov.invalid/hook/office",
            "    webhook: im.example.gov.invalid/hook/office",
            "    webhook: im.",
            "units.office.webhook: Input should be a valid URL",
        ),
    ],
)
def test_mistakes_are_refused_at_their_line(
    text: str, directory: UnitDirectory, old: str, new: str, needle: str, message: str
) -> None:
    bad = replace_once(text, old, new)
    e = refused(bad, directory)
    assert e.line == line_of(bad, needle)
    assert e.message.startswith(message), e.message


def test_units_must_be_a_mapping(directory: UnitDirectory) -> None:
    e = refused("region: x\nunits:\n  - office\n", directory)
    assert (e.line, e.message) == (2, "units: a mapping of unit id → contact details")


def test_channels_default_to_every_address_given() -> None:
    assert Contact().push_channels() == ()
    assert Contact(email="a@b.test").push_channels() == (DeliveryChannel.email,)
    both = Contact(email="a@b.test", webhook="https://h.test/x", webhook_secret_env="HOOK")  # type: ignore[arg-type]
    assert both.push_channels() == (DeliveryChannel.email, DeliveryChannel.webhook)
    assert ContactBook(region="x", units={"office": both}).for_unit("office") == both


def test_directory_path_is_the_one_the_plan_uses() -> None:
    assert (CONTACTS_PATH.parent / "../units/suixian.yaml").resolve() == Path(DIRECTORY_PATH).resolve()


def test_a_webhook_without_a_secret_of_its_own_is_signed_with_the_service_s() -> None:
    c = Contact.model_validate({"webhook": "https://hooks.county.test/duban"})
    assert c.webhook_secret_env is None
