"""Pages of screening, one module per audience: builders and campaigns for leads, the H5 page
for residents, door-knock for grid workers, coverage and tasks for everyone in charge."""
