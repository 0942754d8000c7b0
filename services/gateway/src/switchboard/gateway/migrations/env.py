from switchboard.common.migrations import run_env
from switchboard.gateway.compliance import models as compliance_models  # noqa: F401
from switchboard.gateway.models import Base
from switchboard.gateway.partners import models as partner_models  # noqa: F401

run_env(Base.metadata)
