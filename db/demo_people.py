"""Static tables behind the demo data: countries, names, staff, products, notes.

Everything here is invented. Contact data is placeholder only: e-mail
addresses at example.org / example.com (RFC 2606), telephone numbers from
ranges reserved for fiction (US/CA 555-0100..0199, UK Ofcom drama range
07700 900000..900999); other countries get messenger handles and no number,
because we know of no reserved range there. Product and company names are
made up and do not refer to real products.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain import Channel, IncidentCategory, Protocol, Role, Trend


def _names(text: str) -> tuple[str, ...]:
    # Comma-separated rather than one string per line keeps the tables readable.
    return tuple(name.strip() for name in text.split(","))


@dataclass(frozen=True)
class CountryProfile:
    """How patients from one country look in the demo."""

    code: str
    weight: int
    language: str
    timezones: tuple[tuple[str, int], ...]
    channels: tuple[tuple[Channel, int], ...]
    family_names: tuple[str, ...]
    female_given: tuple[str, ...]
    male_given: tuple[str, ...]
    # (family, given, romanised family, romanised given) written natively.
    native_names: tuple[tuple[str, str, str, str], ...] = ()
    phone_style: str = ""  # "us", "gb" or "" (no fictional range known)
    insurers: tuple[str, ...] = ()


COUNTRIES: tuple[CountryProfile, ...] = (
    CountryProfile(
        code="JP",
        weight=22,
        language="ja",
        timezones=(("Asia/Tokyo", 1),),
        channels=((Channel.LINE, 80), (Channel.EMAIL, 12), (Channel.KAKAOTALK, 8)),
        family_names=_names(
            "Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, "
            "Kobayashi, Kato, Yoshida, Yamada, Sasaki, Matsumoto, Inoue, Kimura, Hayashi, "
            "Shimizu"
        ),
        female_given=_names(
            "Yuki, Haruka, Aoi, Sakura, Misaki, Naomi, Emi, Kaori, Ayaka, Mai, Yui, Rina, "
            "Megumi, Chihiro, Noriko, Keiko"
        ),
        male_given=_names("Hiroshi, Takeshi, Kenji, Daisuke, Shota, Ryo, Kazuki"),
        native_names=(
            ("佐藤", "美咲", "Sato", "Misaki"),
            ("鈴木", "陽菜", "Suzuki", "Hina"),
            ("高橋", "結衣", "Takahashi", "Yui"),
            ("田中", "恵子", "Tanaka", "Keiko"),
            ("山本", "さくら", "Yamamoto", "Sakura"),
            ("中村", "健太", "Nakamura", "Kenta"),
        ),
        insurers=("Sakura Travel Insurance (demo)", "Pacific Medical Travel Cover (demo)"),
    ),
    CountryProfile(
        code="CN",
        weight=22,
        language="zh",
        timezones=(("Asia/Shanghai", 1),),
        channels=((Channel.WECHAT, 90), (Channel.EMAIL, 10)),
        family_names=_names(
            "Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Zhu, Hu, Guo"
        ),
        female_given=_names(
            "Fang, Jing, Min, Na, Xiaoling, Yan, Ting, Hui, Lijuan, Xue, Mei, Yuqi, Ying, Qian"
        ),
        male_given=_names("Wei, Lei, Jun, Hao, Qiang, Yong, Tao"),
        native_names=(
            ("王", "芳", "Wang", "Fang"),
            ("李", "娜", "Li", "Na"),
            ("张", "伟", "Zhang", "Wei"),
            ("刘", "静", "Liu", "Jing"),
            ("陈", "敏", "Chen", "Min"),
            ("杨", "丽娟", "Yang", "Lijuan"),
        ),
        insurers=("Huaxia Travel Assurance (demo)", "Pacific Medical Travel Cover (demo)"),
    ),
    CountryProfile(
        code="US",
        weight=14,
        language="en",
        timezones=(("America/New_York", 45), ("America/Chicago", 20), ("America/Los_Angeles", 35)),
        channels=(
            (Channel.WHATSAPP, 45),
            (Channel.SMS, 30),
            (Channel.EMAIL, 18),
            (Channel.KAKAOTALK, 7),
        ),
        family_names=_names(
            "Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, "
            "Martinez, Nguyen, Kim, Lee, Patel, Anderson, Thomas"
        ),
        female_given=_names(
            "Emily, Jessica, Ashley, Sarah, Jennifer, Megan, Lauren, Olivia, Sophia, "
            "Grace, Hannah, Rachel, Christina, Michelle"
        ),
        male_given=_names("Michael, David, Chris, Daniel, James, Ryan, Kevin"),
        phone_style="us",
        insurers=("Liberty Medical Travel (demo)", "Atlas Global Health (demo)"),
    ),
    CountryProfile(
        code="TW",
        weight=10,
        language="zh-Hant",
        timezones=(("Asia/Taipei", 1),),
        channels=((Channel.LINE, 85), (Channel.EMAIL, 10), (Channel.KAKAOTALK, 5)),
        family_names=_names("Chen, Lin, Huang, Chang, Lee, Wang, Wu, Liu, Tsai, Yang, Hsu, Cheng"),
        female_given=_names(
            "Yi-Ting, Ya-Ting, Shu-Fen, Hsin-Yi, Pei-Shan, Chia-Hui, Wei-Ling, Yu-Chen, "
            "Mei-Ling, Hui-Chun"
        ),
        male_given=_names("Chih-Hao, Chien-Hung, Chia-Hao, Yu-Hsiang, Cheng-Han"),
        native_names=(
            ("陳", "怡君", "Chen", "Yi-Chun"),
            ("林", "雅婷", "Lin", "Ya-Ting"),
            ("黃", "淑芬", "Huang", "Shu-Fen"),
            ("張", "家豪", "Chang", "Chia-Hao"),
            ("李", "佩珊", "Lee", "Pei-Shan"),
        ),
        insurers=("Formosa Travel Protection (demo)",),
    ),
    CountryProfile(
        code="TH",
        weight=8,
        language="th",
        timezones=(("Asia/Bangkok", 1),),
        channels=((Channel.LINE, 88), (Channel.EMAIL, 12)),
        family_names=_names(
            "Saetang, Srisuk, Wongsawat, Chaiyaporn, Rattanakorn, Thongchai, Kaewmanee, "
            "Somboon, Phrommin, Boonmee, Jantarasuk"
        ),
        female_given=_names(
            "Nattaya, Siriporn, Kanokwan, Ploy, Pimchanok, Supaporn, Anong, Chanida, "
            "Waraporn, Kulap"
        ),
        male_given=_names("Thanawat, Somchai, Anurak, Kittisak"),
        insurers=("Siam Travel Health (demo)",),
    ),
    CountryProfile(
        code="MN",
        weight=6,
        language="mn",
        timezones=(("Asia/Ulaanbaatar", 1),),
        channels=((Channel.WHATSAPP, 65), (Channel.KAKAOTALK, 25), (Channel.EMAIL, 10)),
        family_names=_names(
            "Bat-Erdene, Ganbold, Enkhbayar, Tsogt, Dorj, Sukhbaatar, Batbayar, "
            "Altankhuyag, Purevdorj, Gantulga"
        ),
        female_given=_names(
            "Oyuntsetseg, Enkhjargal, Sarangerel, Bolormaa, Narantuya, Anu, Khulan, Solongo, Nomin"
        ),
        male_given=_names("Temuulen, Bat-Ochir, Tuvshin, Erdene"),
        insurers=("Steppe Travel Assurance (demo)",),
    ),
    CountryProfile(
        code="GB",
        weight=6,
        language="en",
        timezones=(("Europe/London", 1),),
        channels=((Channel.WHATSAPP, 80), (Channel.EMAIL, 20)),
        family_names=_names(
            "Smith, Jones, Taylor, Brown, Williams, Wilson, Evans, Thomas, Roberts, "
            "Walker, Wright, Hughes, Khan, Patel"
        ),
        female_given=_names(
            "Olivia, Amelia, Charlotte, Emily, Sophie, Hannah, Jessica, Lucy, Eleanor, Priya"
        ),
        male_given=_names("Oliver, James, Harry, George, Tom"),
        phone_style="gb",
        insurers=("Albion Travel Cover (demo)", "Atlas Global Health (demo)"),
    ),
    CountryProfile(
        code="SG",
        weight=6,
        language="en",
        timezones=(("Asia/Singapore", 1),),
        channels=((Channel.WHATSAPP, 85), (Channel.EMAIL, 15)),
        family_names=_names(
            "Tan, Lim, Lee, Ng, Ong, Wong, Goh, Chua, Koh, Teo, Binte Ahmad, Pillai"
        ),
        female_given=_names(
            "Rachel, Michelle, Jasmine, Hui Min, Wei Ling, Sharon, Priya, Nur Aisyah, "
            "Shu Qi, Cheryl"
        ),
        male_given=_names("Kelvin, Marcus, Jun Jie, Darren"),
        insurers=("Merlion Travel Guard (demo)",),
    ),
    CountryProfile(
        code="DE",
        weight=6,
        language="de",
        timezones=(("Europe/Berlin", 1),),
        channels=((Channel.WHATSAPP, 75), (Channel.EMAIL, 25)),
        family_names=_names(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, "
            "Hoffmann, Koch, Richter"
        ),
        female_given=_names(
            "Anna, Lena, Laura, Julia, Sarah, Katharina, Sophie, Miriam, Johanna, Lea"
        ),
        male_given=_names("Lukas, Felix, Jonas, Maximilian"),
        insurers=("Rhein Reiseschutz (demo)", "Atlas Global Health (demo)"),
    ),
)

# Where the ~3% of travelling patients are at the moment.
TRAVEL_COUNTRIES: tuple[str, ...] = ("KR", "JP", "TH", "SG", "US", "FR", "AU", "VN", "AE")


@dataclass(frozen=True)
class DemoStaff:
    """One demo staff member; usernames start with `demo-` so reloads can find them."""

    username: str
    display_name: str
    role: Role
    notify_tag: str | None
    license_ref: str | None


COORDINATORS: tuple[DemoStaff, ...] = (
    DemoStaff("demo-rn-park", "Park Ji-yeon RN", Role.COORDINATOR, "rn-park", "KR-RN-104417"),
    DemoStaff("demo-rn-choi", "Choi Eun-ji RN", Role.COORDINATOR, "rn-choi", "KR-RN-118230"),
    DemoStaff("demo-rn-jung", "Jung Hae-won RN", Role.COORDINATOR, "rn-jung", "KR-RN-097512"),
    DemoStaff("demo-rn-seo", "Seo Yu-na RN", Role.COORDINATOR, "rn-seo", "KR-RN-121904"),
)
# The first physician is the senior one, the third typically holds the on-call phone.
PHYSICIANS: tuple[DemoStaff, ...] = (
    DemoStaff("demo-dr-kim", "Dr Kim Min-jun (senior)", Role.PHYSICIAN, "dr-kim", "KR-MD-48211"),
    DemoStaff("demo-dr-lee", "Dr Lee Seo-yeon", Role.PHYSICIAN, "dr-lee", "KR-MD-52907"),
    DemoStaff("demo-dr-han", "Dr Han Ji-ho (on call)", Role.PHYSICIAN, "dr-han", "KR-MD-55318"),
    DemoStaff("demo-dr-yoon", "Dr Yoon Da-eun", Role.PHYSICIAN, "dr-yoon", "KR-MD-57740"),
)
ADMINS: tuple[DemoStaff, ...] = (DemoStaff("demo-admin", "Demo Admin", Role.ADMIN, None, None),)
SENIOR_TAG = "dr-kim"
ON_CALL_TAG = "dr-han"

# Treatment-room nurses (name, licence reference) recorded on episodes.
TREATMENT_NURSES: tuple[tuple[str, str], ...] = (
    ("Kang Min-ji", "KR-RN-088431"),
    ("Yoo Seo-hyun", "KR-RN-110276"),
    ("Shin Hye-jin", "KR-RN-093358"),
    ("Oh Ji-won", "KR-RN-125067"),
)

PROTOCOL_WEIGHTS: tuple[tuple[Protocol, int], ...] = (
    (Protocol.EXOSOME_IV, 30),
    (Protocol.MICRONEEDLING, 25),
    (Protocol.EXOSOME_IV_MICRONEEDLING, 30),
    (Protocol.PRP, 15),
)


@dataclass(frozen=True)
class DemoProduct:
    """A product line: one MFDS reference, many lots (lot codes start with `lot_prefix`)."""

    key: str
    name: str
    mfds_reference: str
    manufacturer: str
    lot_prefix: str
    dose: str


PRODUCTS: dict[str, DemoProduct] = {
    p.key: p
    for p in (
        DemoProduct(
            "exo_iv",
            "ExoRene IV exosome concentrate 5 mL",
            "MFDS-2024-01873",
            "Seorin Biolabs (fictional)",
            "ERV",
            "1 vial (5 mL) in 100 mL saline IV over 30 min",
        ),
        DemoProduct(
            "exo_topical",
            "DermExo ampoule 5 mL",
            "MFDS-2023-04412",
            "Gaon Bio (fictional)",
            "DXA",
            "1 ampoule (5 mL) with microneedling",
        ),
        DemoProduct(
            "gf_serum",
            "GF Booster serum (EGF/FGF) 3 mL",
            "MFDS-2024-02256",
            "Mirae Cosmeceutical (fictional)",
            "GFB",
            "3 mL topical after microneedling",
        ),
        DemoProduct(
            "prp_kit",
            "AutoPlas PRP preparation kit",
            "MFDS-2022-07719",
            "Hanul Medical (fictional)",
            "APK",
            "20 mL whole blood, 4 mL PRP injected",
        ),
        DemoProduct(
            "numbing",
            "Lidocaine 9.6% topical cream",
            "MFDS-2021-05530",
            "Daehan Pharm (fictional)",
            "LDC",
            "thin layer, 40 min before needling",
        ),
        DemoProduct(
            "glutathione",
            "Glutathione 600 mg/5 mL injection",
            "MFDS-2020-03391",
            "Daehan Pharm (fictional)",
            "GTH",
            "600 mg IV",
        ),
        DemoProduct(
            "glutathione_high",
            "Glutathione 600 mg/5 mL injection",
            "MFDS-2020-03391",
            "Daehan Pharm (fictional)",
            "GTH",
            "2400 mg IV (high dose)",
        ),
        DemoProduct(
            "b_complex",
            "Vitamin B-complex injection 2 mL",
            "MFDS-2019-06148",
            "Daehan Pharm (fictional)",
            "BCX",
            "2 mL in the IV bag",
        ),
    )
}

# Main products per protocol (add-on infusions are appended from the episode's add-ons).
PROTOCOL_PRODUCTS: dict[Protocol, tuple[str, ...]] = {
    Protocol.EXOSOME_IV: ("exo_iv",),
    Protocol.MICRONEEDLING: ("exo_topical", "numbing"),
    Protocol.EXOSOME_IV_MICRONEEDLING: ("exo_iv", "gf_serum"),
    Protocol.PRP: ("prp_kit",),
}
ADDON_PRODUCTS: dict[str, str] = {
    "b_complex": "b_complex",
    "glutathione": "glutathione",
    "glutathione_high_dose": "glutathione_high",
}

ALLERGIES: tuple[str, ...] = (
    "Penicillin (rash)",
    "Latex",
    "Lidocaine: local swelling in 2019",
    "NSAIDs (hives)",
    "Shellfish",
    "Adhesive tape (contact dermatitis)",
    "Sulfonamides",
)

DOCUMENT_ITEMS: tuple[tuple[str, float], ...] = (
    ("itemised_receipt", 0.97),
    ("aftercare_card", 0.94),
    ("protocol_summary", 0.92),
    ("mfds_reference", 0.93),
    ("lot_and_expiry", 0.88),
    ("nurse_licensure", 0.86),
)

KHIDI_COVER_REF = "KHIDI-LIAB-2026-0042"

DONE_NOTES: tuple[str, ...] = (
    "Healing as expected; aftercare advice repeated.",
    "Photos reviewed: mild redness settling.",
    "Patient well, no concerns.",
    "Patient happy with result so far.",
    "Some dryness; moisturiser and SPF advice sent.",
    "No fever, no IV-site pain. Continue schedule.",
    "Replied with photos; nothing new at treated sites.",
    "Asked about make-up; advised to wait until day 3.",
)
RETURN_NOTES: tuple[str, ...] = (
    "Patient plans next visit in spring.",
    "Not planning another trip yet; ask again later.",
    "Interested in a booster session; sent the booking link.",
)
SKIP_REASONS: tuple[str, ...] = (
    "Patient asked to skip this check: travelling for work.",
    "Covered by the triage call the day before.",
    "Patient declined further follow-up for this step.",
    "Home physician is following up locally.",
    "Duplicate of an earlier contact this week.",
)
UNREACHABLE_NOTES: tuple[str, ...] = (
    "Three attempts on the messenger, no reply.",
    "Messages delivered but not read; e-mail bounced.",
    "No answer on any channel within the window.",
)
ATTEMPT_NOTES: tuple[str, ...] = (
    "Aftercare message sent in the patient's language.",
    "Photo request sent.",
    "Patient asked us to call after work.",
    "Left a message.",
)


@dataclass(frozen=True)
class Scenario:
    """What a patient reports at a triage, and on which days it is plausible."""

    symptoms: tuple[str, ...]
    trend: Trend | None
    temperature_c: float | None
    first_day: int
    last_day: int
    weight: float
    iv_only: bool = False


_I, _S, _W = Trend.IMPROVING, Trend.STABLE, Trend.WORSENING
# Mostly the normal course, a tail of adverse events (DOMAIN.md section 4 vocabulary).
SCENARIOS: tuple[Scenario, ...] = (
    Scenario((), None, None, 0, 10_000, 30),
    Scenario(("flush", "mild_swelling"), _I, None, 0, 3, 20),
    Scenario(("erythema", "tightness_dryness"), _I, None, 0, 3, 15),
    Scenario(("pinpoint_bruising",), _S, None, 0, 7, 10),
    Scenario(("flaking", "tightness_dryness"), _I, None, 2, 7, 12),
    Scenario(("erythema",), _S, None, 4, 7, 12),
    Scenario(("itching", "flaking"), _S, None, 8, 90, 8),
    Scenario(("tightness_dryness",), _S, 36.8, 8, 40, 6),
    Scenario(("erythema", "swelling"), _S, None, 8, 40, 6),
    Scenario(("nodule",), _S, None, 12, 200, 9),
    Scenario(("warmth", "expanding_redness"), _S, 37.4, 2, 14, 4),
    Scenario(("iv_site_pain", "iv_site_swelling"), _I, None, 0, 7, 5, True),
    Scenario(("fatigue", "chills"), _S, 37.6, 0, 14, 4),
    Scenario(("severe_itching",), _S, None, 0, 14, 3),
    Scenario(("erythema", "warmth"), _W, None, 2, 7, 3),
    Scenario(("pus", "warmth"), _W, 37.9, 3, 21, 2),
    Scenario(("hives",), _S, None, 0, 7, 2),
    Scenario(("chills",), _S, 38.3, 0, 14, 2),
    Scenario(("chills", "persistent_vomiting"), _W, 38.9, 1, 10, 1),
    Scenario(("throat_tightness", "hives"), _W, None, 0, 3, 0.7),
    Scenario(("dizziness", "palpitations"), None, None, 0, 3, 0.7, True),
)  # fmt: skip

# First match wins: the incident category a set of findings suggests.
CATEGORY_BY_SYMPTOM: tuple[tuple[frozenset[str], IncidentCategory], ...] = (
    (
        frozenset({"hives", "facial_swelling_beyond_area", "throat_tightness", "wheezing"}),
        IncidentCategory.ALLERGIC,
    ),
    (frozenset({"severe_itching"}), IncidentCategory.ALLERGIC),
    (frozenset({"pus", "red_streaks", "warmth", "expanding_redness"}), IncidentCategory.INFECTION),
    (frozenset({"nodule"}), IncidentCategory.NODULE),
    (frozenset({"iv_site_pain", "iv_site_swelling"}), IncidentCategory.IV_SITE),
    (frozenset({"fainting", "palpitations"}), IncidentCategory.VASOVAGAL),
    (
        frozenset({"chills", "fatigue", "nausea", "persistent_vomiting", "dizziness"}),
        IncidentCategory.SYSTEMIC,
    ),
    (
        frozenset({"erythema", "swelling", "flush", "mild_swelling"}),
        IncidentCategory.PROLONGED_ERYTHEMA,
    ),
)

OVERRIDE_UP = "Photos unclear and the patient is anxious: erring on the side of caution."
OVERRIDE_DOWN = (
    "Treating physician reviewed photos by video call: consistent with expected healing."
)
INCIDENT_ACTIONS: tuple[str, ...] = (
    "Conservative care advised; photos every 48 h; home physician informed.",
    "Cold compresses and antihistamine advice; physician call booked.",
    "Advised review by the home physician; protocol summary sent in English.",
    "Told to attend local emergency services; clinic physician followed up by phone.",
)
CAUSALITY: tuple[str, ...] = ("possible", "probable", "unlikely", "not assessable")
