from common.migrate import run_env
from services.agreements.models import Base

run_env(Base.metadata)
