print("lstmd placeholder")
