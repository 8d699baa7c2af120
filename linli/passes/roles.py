"""Who does what with passes."""

from linli.core.roles import Role

# Who issues, reissues and revokes the passes of their community (and officials above it).
PASS_ISSUERS = (
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)
# Who may change which member of a household holds its pass: issuers and the grid worker
# who knows the family.
HOLDER_EDITORS = (*PASS_ISSUERS, Role.GRID_WORKER)
# Signing keys serve every gate of the deployment, so only the city (or a superuser) rotates
# or retires them.
KEY_KEEPERS = (Role.CITY_OFFICER,)
# Who sees the passes page.
PASS_READERS = (*HOLDER_EDITORS, Role.DATA_STEWARD)
