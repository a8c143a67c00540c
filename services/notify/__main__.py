from services.common.serve import serve
from services.notify.app import create_app

serve("notify", create_app)
