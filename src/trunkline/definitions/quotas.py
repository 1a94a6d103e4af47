"""Quotas (neutron's quotasv2 and quotasv2_detail extensions, neutron-lib's quota-check-limit
definitions): ``/v2.0/quotas`` with each project's limits, their defaults and usage. Which
resource counts against which quota is its own definition's ``quota``; the collection is served
by a controller of its own (services/quota/controller.py), not by a resource of rows."""
from trunkline.definitions import checks as c
from trunkline.definitions.base import Extension

CONTROLLER = "trunkline.services.quota.controller:QuotaController"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"

EXTENSIONS = (
    Extension("quotas", "Quota management support",
              "Expose functions for quotas management per project",
              updated="2012-07-29T10:00:00-00:00", controllers=(("quotas", CONTROLLER),),
              policies=(
                  ("get_quota", c.any_of(c.ADMIN, PROJECT_MANAGER)),
                  ("update_quota", c.ADMIN),
                  ("delete_quota", c.ADMIN),
              )),
    Extension("quota_details", "Quota details management support",
              "Expose functions for quotas usage statistics per project",
              updated="2017-02-10T10:00:00-00:00", requires=("quotas",)),
    Extension("quota-check-limit", "Quota engine limit check",
              "Support for checking the resource usage before applying a new quota limit",
              updated="2021-09-08T16:00:00-00:00", requires=("quotas",)),
    Extension("quota-check-limit-default", "Quota engine limit check by default",
              "By default, the Neutron quota engine checks the resource usage before applying "
              "a new quota limit",
              updated="2024-08-21T16:00:00-00:00", requires=("quota-check-limit",)),
)
