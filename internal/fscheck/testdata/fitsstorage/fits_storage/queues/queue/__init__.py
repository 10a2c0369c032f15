from .ingestqueue import IngestQueue
#from exportqueue import ExportQueue
#from previewqueue import PreviewQueue
from .calcachequeue import CalCacheQueue