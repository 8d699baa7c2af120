from linli.core.masking import (
    HIDDEN_TEXT,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    present,
)
from linli.core.roles import ROLE_POLICIES, Role
from linli.core.sensitivity import Sensitivity


def test_masks_follow_the_common_chinese_forms():
    """ID 6101**********123X, phone 138****5678, name 张*伟."""
    assert mask_id_number("61010319900101123X") == "6101**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三伟") == "张*伟"
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"


def test_address_mask_hides_unit_and_dwelling():
    """The building stays visible, the unit and dwelling are hidden."""
    assert mask_address("翠华小区3号楼", "2单元501室") == "翠华小区3号楼****"


def test_present_applies_each_role_policy():
    """Names clear for community staff, masked for officials; volunteers see no health data."""
    grid = ROLE_POLICIES[Role.GRID_WORKER]
    street = ROLE_POLICIES[Role.STREET_OFFICER]
    volunteer = ROLE_POLICIES[Role.VOLUNTEER]
    assert present("张三伟", sensitivity=Sensitivity.PERSONAL, policy=grid) == "张三伟"
    assert present("张三伟", sensitivity=Sensitivity.PERSONAL, policy=street) == "张*伟"
    assert present("透析", sensitivity=Sensitivity.SENSITIVE, policy=volunteer) == HIDDEN_TEXT
    assert all(p.visibility(Sensitivity.IDENTIFIER) != "clear" for p in ROLE_POLICIES.values())
