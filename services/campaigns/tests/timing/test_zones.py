"""A contact's time zone: the profile's when valid, else the phone number's when it points to one
zone, else the tenant's default."""

from __future__ import annotations

import pytest

from switchboard.campaigns.timing import resolve_zone, validate_zone

MANHATTAN = "+12125551234"
SAN_FRANCISCO = "+14155551234"
UK_MOBILE = "+447911123456"


class TestValidateZone:
    @pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"])
    def test_an_iana_zone_is_returned_as_given(self, name: str) -> None:
        assert validate_zone(name) == name

    @pytest.mark.parametrize(
        "name", ["Mars/Olympus_Mons", "", "America", "europe/london", "+05:00", "../etc/passwd"]
    )
    def test_anything_else_is_refused_by_name(self, name: str) -> None:
        with pytest.raises(ValueError, match="is not an IANA time zone name") as refused:
            validate_zone(name)
        assert repr(name) in str(refused.value)


class TestResolveZone:
    def test_the_profiles_zone_comes_first(self) -> None:
        resolved = resolve_zone("Europe/Paris", MANHATTAN, "UTC")

        assert resolved.zone.key == "Europe/Paris"
        assert resolved.source == "profile"

    @pytest.mark.parametrize("profile_zone", [None, "", "Eastern Time", "America/Nowhere"])
    def test_without_a_valid_profile_zone_the_number_decides(
        self, profile_zone: str | None
    ) -> None:
        resolved = resolve_zone(profile_zone, MANHATTAN, "UTC")

        assert resolved.zone.key == "America/New_York"
        assert resolved.source == "number"

    @pytest.mark.parametrize(
        ("address", "zone"),
        [
            (MANHATTAN, "America/New_York"),
            (SAN_FRANCISCO, "America/Los_Angeles"),
            ("+61212345678", "Australia/Sydney"),
            ("+74951234567", "Europe/Moscow"),
            ("+33612345678", "Europe/Paris"),
        ],
    )
    def test_a_number_in_one_zone_gives_that_zone(self, address: str, zone: str) -> None:
        assert resolve_zone(None, address, "UTC").zone.key == zone

    def test_a_whatsapp_address_is_read_as_its_number(self) -> None:
        resolved = resolve_zone(None, f"whatsapp:{SAN_FRANCISCO}", "UTC")

        assert resolved.zone.key == "America/Los_Angeles"
        assert resolved.source == "number"

    def test_zones_that_are_one_zone_under_several_names_count_as_one(self) -> None:
        # A UK mobile number maps to London, Jersey, Guernsey and the Isle of Man: one clock.
        resolved = resolve_zone(None, UK_MOBILE, "America/Chicago")

        assert resolved.zone.key == "Europe/London"
        assert resolved.source == "number"

    @pytest.mark.parametrize(
        "address",
        [
            pytest.param("+18005551234", id="us-toll-free"),
            pytest.param("+61412345678", id="australian-mobile"),
            pytest.param("+79161234567", id="russian-mobile"),
        ],
    )
    def test_a_number_spanning_several_clocks_leaves_it_to_the_tenant(self, address: str) -> None:
        resolved = resolve_zone(None, address, "Europe/Berlin")

        assert resolved.zone.key == "Europe/Berlin"
        assert resolved.source == "tenant"

    @pytest.mark.parametrize(
        "address",
        [
            pytest.param("+15555551234", id="no-such-area-code"),
            pytest.param("12125551234", id="no-country-code"),
            pytest.param("alice@example.com", id="not-a-number"),
            pytest.param("whatsapp:", id="empty"),
        ],
    )
    def test_an_address_that_is_no_known_number_leaves_it_to_the_tenant(self, address: str) -> None:
        resolved = resolve_zone(None, address, "Asia/Tokyo")

        assert resolved.zone.key == "Asia/Tokyo"
        assert resolved.source == "tenant"

    def test_an_invalid_tenant_default_is_an_error_not_a_silent_utc(self) -> None:
        with pytest.raises(ValueError, match="'Moon/Base'"):
            resolve_zone(None, "+15555551234", "Moon/Base")
