"""Import every model so the metadata (and Alembic) sees all tables."""
from gridsvc.audit.models import AuditEntry
from gridsvc.auth.models import AccountInvitation, ApiToken, LoginThrottle, User, WebSession
from gridsvc.cameras.models import Camera
from gridsvc.db import Base
from gridsvc.grids.models import Grid
from gridsvc.live.models import LiveStream
from gridsvc.patrols.models import PatrolGridTime, PatrolSession, PatrolTask, TaskSignup
from gridsvc.people.models import Patroller
from gridsvc.positions.models import Device, Position
from gridsvc.reports.models import Target

__all__ = ["Base", "Camera", "Grid", "LiveStream", "PatrolSession", "PatrolTask", "Patroller", "Device"]
