"""Who the demo is about: patients' countries and names, and the clinic's staff.

Static tables only, kept apart from the generator so the invented people can
be read and changed without reading any code. Everything here is invented.
Contact data is placeholder only: e-mail addresses at example.org /
example.com (RFC 2606), telephone numbers from ranges reserved for fiction
(US/CA 555-0100..0199, UK Ofcom drama range 07700 900000..900999); other
countries get messenger handles and no number, because we know of no
reserved range there.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain import Channel, Role


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
